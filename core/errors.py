"""The domain error every caller (admin, pages, API, imports) shows as a clear message, and the
refusal of an input file that names each row at fault (imports of work and of delivery records)."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

# The code of a DomainError that says who may not do it: every door answers it with 403.
PERMISSION_DENIED = "permission_denied"


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


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return f"{where}, field '{self.field}': {self.message}" if self.field else f"{where}: {self.message}"


class ImportRefused(DomainError):
    """The files have problems; nothing was written. `errors` lists each one."""

    def __init__(self, errors: list[RowError], more: int = 0):
        self.errors = errors
        self.more = more
        lines = "\n".join(f"  - {error}" for error in errors)
        extra = f"\n  ... and {more} more" if more else ""
        super().__init__(
            f"The import was refused and nothing was written: {len(errors) + more} problem(s).\n{lines}{extra}",
            code="import_refused",
        )


def raise_if_denied(error: DomainError) -> None:
    """The one way a refusal for lack of rights becomes a 403 in a page or fragment (the API's
    exception handler does the same for its answers); any other refusal is the caller's to show."""
    if error.code == PERMISSION_DENIED:
        raise PermissionDenied(error.message) from error


# SQLSTATE codes of integrity violations (PostgreSQL; SQLite gives no code, so the generic sentence).
UNIQUE, FOREIGN_KEY, CHECK, NOT_NULL = "23505", "23503", "23514", "23502"
RELOAD = "Nothing was saved: someone may have changed the same data a moment ago. Reload the page and try again."


def _model_and_constraint(table: str | None, name: str | None):
    from django.apps import apps

    model = next((m for m in apps.get_models() if m._meta.db_table == table), None)
    constraint = next((c for c in model._meta.constraints if c.name == name), None) if model else None
    return model, constraint


def _field_label(model, column: str) -> str:
    for field in model._meta.concrete_fields:
        if column in (field.column, field.attname):
            return str(field.verbose_name)
    return column.replace("_", " ")


def _duplicate(model, detail: str) -> str:
    """`Key (owner_team_id, name)=(3, Legal review) already exists.` → the same owner team and name “Legal review”."""
    columns, values = [], []
    if detail.startswith("Key (") and ")=(" in detail:
        head, _, rest = detail[5:].partition(")=(")
        columns = head.split(", ")
        values = rest.rsplit(") already exists", 1)[0].split(", ")
    if not columns:
        return ""
    shown = values if len(values) == len(columns) else [None] * len(columns)
    parts = []
    for column, value in zip(columns, shown, strict=True):
        label = _field_label(model, column)
        related = column.endswith("_id")
        parts.append(label if related or value is None else f"{label} “{value}”")
    return " and ".join(parts)


def integrity_message(error) -> str:
    """A sentence for a database integrity violation: which rule, on what, and what to do.

    The constraint and table come from PostgreSQL's error fields, so a duplicate says which
    values clash and a check names its rule's own message."""
    cause = error.__cause__
    diag = getattr(cause, "diag", None)
    sqlstate = getattr(cause, "sqlstate", None)
    model, constraint = _model_and_constraint(getattr(diag, "table_name", None), getattr(diag, "constraint_name", None))
    noun = str(model._meta.verbose_name) if model else "record"
    if sqlstate == UNIQUE and model:
        clash = _duplicate(model, getattr(diag, "message_detail", "") or "")
        return f"Another {noun} already has the same {clash or 'values'}. {RELOAD}"
    if sqlstate == FOREIGN_KEY:
        return f"The {noun} refers to something that no longer exists (it may have just been deleted). {RELOAD}"
    if sqlstate == CHECK and constraint is not None:
        return f"The {noun} breaks a rule: {constraint.get_violation_error_message()} Nothing was saved."
    if sqlstate == NOT_NULL and model:
        return f"A {noun} needs a {_field_label(model, getattr(diag, 'column_name', '') or '')}. Nothing was saved."
    return f"The change conflicts with data already stored (a duplicate or a missing reference). {RELOAD}"
