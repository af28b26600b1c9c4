"""The domain error every caller (admin, pages, API, imports) shows as a clear message."""


class DomainError(Exception):
    """A business rule refused a change. `str(error)` is a complete sentence for the user;
    `field` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    @classmethod
    def from_validation(cls, error) -> "DomainError":
        """The first problem of a model's `ValidationError` (from `full_clean`), naming its field."""
        field, messages = next(iter(error.message_dict.items()))
        return cls(" ".join(messages), field=None if field == "__all__" else field)
