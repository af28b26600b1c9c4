"""The domain error every caller (admin, pages, API, imports) shows as a clear message."""


class DomainError(Exception):
    """A business rule refused a change. `str(error)` is a complete sentence for the user;
    `field` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
