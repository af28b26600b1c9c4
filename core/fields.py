"""A model field holding several choices as one comma-separated column.

Used for small, fixed vocabularies (flow item types of a readiness criterion, DOWNTIME
waste tags of a process block). It filters the same way on PostgreSQL and SQLite with
`field__contains="code"` as long as no code is a substring of another, which `__init__`
checks. Forms get checkboxes.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models


class ChoiceListField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", list)
        super().__init__(*args, **kwargs)
        codes = [code for code, _ in self.choices or []]
        for code in codes:
            others = [other for other in codes if other != code and code in other]
            if others:
                raise ValueError(f"choice {code!r} is a substring of {others}: filtering would be ambiguous")

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("max_length") == 255:
            del kwargs["max_length"]
        if kwargs.get("blank") is True:
            del kwargs["blank"]
        if kwargs.get("default") is list:
            del kwargs["default"]
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, (tuple, set)):
            return list(value)
        return [part for part in str(value).split(",") if part]

    def get_prep_value(self, value):
        if isinstance(value, (list, tuple, set)):
            return ",".join(value)
        return value

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))

    def validate(self, value, model_instance):
        valid = {code for code, _ in self.choices or []}
        unknown = [code for code in value or [] if code not in valid]
        if unknown:
            raise ValidationError(
                "Unknown value(s): %(unknown)s. Choose from %(valid)s.",
                params={"unknown": ", ".join(unknown), "valid": ", ".join(sorted(valid))},
                code="invalid_choice",
            )
        if not self.blank and not value:
            raise ValidationError(self.error_messages["blank"], code="blank")

    def formfield(self, **kwargs):
        defaults = {
            "form_class": forms.TypedMultipleChoiceField,
            "choices": self.choices,
            "required": not self.blank,
            "widget": forms.CheckboxSelectMultiple,
            "label": self.verbose_name.capitalize(),
            "help_text": self.help_text,
        }
        defaults.update(kwargs)
        # Bypass CharField.formfield, which would build a single-choice select.
        form_class = defaults.pop("form_class")
        for key in ("max_length", "empty_value", "choices_form_class", "coerce"):
            defaults.pop(key, None)
        return form_class(**defaults)

    def get_choices_display(self, value) -> str:
        labels = dict(self.choices or [])
        return ", ".join(str(labels.get(code, code)) for code in value or [])
