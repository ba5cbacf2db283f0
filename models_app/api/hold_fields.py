"""The ``held`` and ``hold`` fields of model and version representations: the legal hold keeping the files."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from models_app import selectors
from models_app.models import ModelVersion


class LegalHoldSerializer(serializers.Serializer):
    """An active legal hold: while it lasts, the files it covers are never purged."""

    scope = serializers.ChoiceField(
        choices=["version", "model"], help_text="`model`: the hold is on every version of the model."
    )
    reason = serializers.CharField()
    placed_by = serializers.CharField(source="placed_by.username")
    placed_at = serializers.DateTimeField()
    object_lock = serializers.BooleanField(
        help_text="Whether the stored objects carry an S3 Object Lock legal hold as well."
    )


_UNREAD = object()


def _hold_from_row(row: dict | None) -> dict | None:
    """A hold as ``selectors.version_rows`` reads it (a JSON column), in LegalHoldSerializer's shape."""
    if row is None:
        return None
    return {
        "scope": "version" if row["version"] else "model",
        "reason": row["reason"],
        "placed_by": row["placed_by"],
        "placed_at": serializers.DateTimeField().to_representation(selectors.json_datetime(row["placed_at"])),
        "object_lock": bool(row["object_lock"]),
    }


def _covering(obj):
    if isinstance(obj, ModelVersion):
        return selectors.hold_covering(version=obj)
    return selectors.hold_of_model(registered_model=obj)


@extend_schema_field(LegalHoldSerializer(allow_null=True))
class HoldField(serializers.Field):
    """Read-only ``hold``: for a version the hold that keeps its files (its own, else its model's), for a
    model the hold on all its versions; null when there is none."""

    def __init__(self, **kwargs):
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("help_text", "The active legal hold that keeps the files, or null.")
        super().__init__(**kwargs)

    def to_representation(self, obj):
        row = getattr(obj, "hold_row", _UNREAD)
        if row is not _UNREAD:
            return _hold_from_row(row)
        hold = _covering(obj)
        return LegalHoldSerializer(hold).data if hold is not None else None


@extend_schema_field(serializers.BooleanField())
class HeldField(serializers.Field):
    """Read-only ``held``: whether a legal hold keeps the version's files."""

    def __init__(self, **kwargs):
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        kwargs.setdefault(
            "help_text", "Whether a legal hold (the version's own or its model's) keeps its files."
        )
        super().__init__(**kwargs)

    def to_representation(self, obj):
        row = getattr(obj, "hold_row", _UNREAD)
        if row is not _UNREAD:
            return row is not None
        return _covering(obj) is not None
