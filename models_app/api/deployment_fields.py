"""The ``deployments`` field of model and version representations: where each version runs now."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from models_app import selectors
from models_app.models import Deployment, ModelVersion

_UNREAD = object()


class CurrentDeploymentSerializer(serializers.ModelSerializer):
    """Where a version runs now: the latest report for an environment."""

    version = serializers.IntegerField(source="version.version", read_only=True)
    reported_by = serializers.CharField(source="reported_by.username", read_only=True)

    class Meta:
        model = Deployment
        fields = ["environment", "version", "status", "url", "reported_by", "reported_at"]
        read_only_fields = fields


@extend_schema_field(CurrentDeploymentSerializer(many=True))
class CurrentDeploymentsField(serializers.Field):
    """Read-only ``deployments`` of a model or version: the latest report per environment."""

    def __init__(self, **kwargs):
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        kwargs.setdefault(
            "help_text", "Where it runs now: the latest deployment report per environment (status and URL)."
        )
        super().__init__(**kwargs)

    def to_representation(self, obj):
        rows = getattr(obj, "deployment_rows", _UNREAD)
        if rows is not _UNREAD:  # read as JSON by selectors.version_rows
            stamp = serializers.DateTimeField()
            return [
                {
                    "environment": row["environment"],
                    "version": obj.version,
                    "status": row["status"],
                    "url": row["url"],
                    "reported_by": row["reported_by"],
                    "reported_at": stamp.to_representation(selectors.json_datetime(row["reported_at"])),
                }
                for row in sorted(rows or (), key=lambda row: row["environment"])
            ]
        current = getattr(obj, "current_deployments", None)
        if current is None:  # not prefetched by the selector
            if isinstance(obj, ModelVersion):
                current = selectors.deployment_list_current(registered_model=obj.registered_model)
                current = [d for d in current if d.version_id == obj.pk]
            else:
                current = selectors.deployment_list_current(registered_model=obj)
        return CurrentDeploymentSerializer(current, many=True).data
