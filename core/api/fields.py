"""Input fields the API needs beyond DRF's own."""

from rest_framework import serializers

from core.dates import too_early


class AwareDateTimeField(serializers.DateTimeField):
    """An instant with its UTC offset (a time without one is ambiguous), from 2000 on (`core.dates`)."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        text = value if isinstance(value, str) else ""
        if text and not (text.endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]):
            raise serializers.ValidationError(f"{text!r} has no UTC offset: add one, e.g. {text}Z or {text}+01:00.")
        if problem := too_early(parsed):
            raise serializers.ValidationError(problem)
        return parsed
