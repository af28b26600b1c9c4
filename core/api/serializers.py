"""What the API shows of a row's change history (every resource's `history` action)."""

from rest_framework import serializers

from core.api.fields import AwareDateTimeField


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The field's name as the resource shows it.")
    old = serializers.JSONField(help_text="Value before (ids for related rows, a list of ids for many-to-many).")
    new = serializers.JSONField(help_text="Value after.")
    old_display = serializers.CharField(help_text="The value before, for people: names instead of ids.")
    new_display = serializers.CharField(help_text="The value after, for people.")


class ChangeSerializer(serializers.Serializer):
    history_id = serializers.IntegerField(help_text="Increases with every recorded version.")
    at = AwareDateTimeField()
    kind = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    user = serializers.IntegerField(source="user_id", allow_null=True, help_text="Who made it (user id).")
    username = serializers.CharField(
        source="user", allow_blank=True, help_text="Empty for a job, an import or the command line."
    )
    reason = serializers.CharField(allow_blank=True)
    changes = FieldChangeSerializer(source="fields", many=True, help_text="What changed, field by field.")


class HistoryPageSerializer(serializers.Serializer):
    object_id = serializers.IntegerField()
    results = ChangeSerializer(many=True, help_text="Newest first.")
    next = serializers.URLField(allow_null=True, help_text="The page of older changes; null on the last page.")


class HistoryQuerySerializer(serializers.Serializer):
    before = serializers.IntegerField(
        required=False, min_value=1, max_value=2**62, help_text="Only changes older than this `history_id`."
    )
    page_size = serializers.IntegerField(
        required=False, default=100, min_value=1, max_value=1000, help_text="Changes per page (at most 1000)."
    )
