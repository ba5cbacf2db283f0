"""Sign-in through the identity provider, for Governance: which subject each user is, and every role,
team and admin-access change a sign-in made. Both are read-only here; only sign-ins write them."""

from __future__ import annotations

from django.contrib import admin

from models_app.admin.base import ReadOnlyAdmin
from models_app.models import OIDCIdentity, RoleSyncRecord


def _names(values) -> str:
    return ", ".join(values) if values else "—"


@admin.register(RoleSyncRecord)
class RoleSyncRecordAdmin(ReadOnlyAdmin):
    """Append-only: one row per sign-in that created a user or changed their roles, teams or admin access."""

    list_display = (
        "created_at",
        "username",
        "subject",
        "added",
        "removed",
        "admin_access",
        "account_created",
        "seen",
    )
    list_filter = ("account_created", "admin_access", "created_at")
    search_fields = ("username", "=subject", "=request_id")
    ordering = ("-id",)
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "user",
        "username",
        "issuer",
        "subject",
        "provider_groups",
        "groups_added",
        "groups_removed",
        "admin_access",
        "account_created",
        "request_id",
    )
    readonly_fields = fields

    @admin.display(description="Groups added")
    def added(self, obj):
        return _names(obj.groups_added)

    @admin.display(description="Groups removed")
    def removed(self, obj):
        return _names(obj.groups_removed)

    @admin.display(description="Provider groups seen")
    def seen(self, obj):
        return _names(obj.provider_groups)


@admin.register(OIDCIdentity)
class OIDCIdentityAdmin(ReadOnlyAdmin):
    """Which provider subject each user is; created at the user's first sign-in."""

    list_display = ("user", "subject", "issuer", "created_at", "last_sign_in_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "=subject")
    ordering = ("user__username",)
    fields = ("user", "issuer", "subject", "created_at", "last_sign_in_at", "last_claims")
    readonly_fields = fields
