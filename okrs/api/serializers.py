"""What the API shows of objectives, key results and check-ins, and the link it accepts."""

from rest_framework import serializers

from okrs.models import CheckIn, KeyResult, Objective
from streams.models import BacklogItem


class ObjectiveSerializer(serializers.ModelSerializer):
    class Meta:
        model = Objective
        fields = ["id", "title", "description", "level", "owner", "period", "parent", "stream", "team", "created_at"]


class KeyResultSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField(help_text="(current − start) ÷ (target − start); null if equal.")

    class Meta:
        model = KeyResult
        fields = [
            "id",
            "objective",
            "title",
            "kind",
            "unit",
            "start_value",
            "target_value",
            "current_value",
            "weight",
            "order",
            "progress",
            "source",
            "measure",
            "measure_stream",
            "measure_team",
            "measure_flow_type",
            "measure_criterion",
            "measure_weeks",
        ]

    def get_progress(self, key_result) -> float | None:
        span = key_result.target_value - key_result.start_value
        return None if not span else round(float((key_result.current_value - key_result.start_value) / span), 4)


class CheckInSerializer(serializers.ModelSerializer):
    key_result = serializers.PrimaryKeyRelatedField(queryset=KeyResult.objects.all())
    date = serializers.DateField(required=False, help_text="Default today; never in the future.")
    confidence = serializers.DecimalField(max_digits=3, decimal_places=2, min_value=0, max_value=1)
    value = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Ignored for a key result measured by the portal (its value is the measure's).",
    )

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "key_result",
            "value",
            "confidence",
            "note",
            "date",
            "author",
            "created_at",
            "system",
            "n",
            "method",
            "source_url",
        ]
        read_only_fields = ["id", "author", "created_at", "system", "n", "method", "source_url"]


class LinkSerializer(serializers.Serializer):
    item = serializers.PrimaryKeyRelatedField(queryset=BacklogItem.objects.all(), help_text="Backlog item id.")
