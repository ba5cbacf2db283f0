"""Users and their roles and teams; deactivated, never deleted."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

admin.site.unregister(User)


@admin.register(User)
class RegistryUserAdmin(UserAdmin):
    """Users are deactivated, not deleted: the ledger refers to them forever.

    Only superusers delete users, grant superuser status or edit a superuser; Governance manages
    everyone else and their groups (roles and teams).
    """

    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    actions = ("deactivate_selected",)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return readonly
        return (*readonly, "is_superuser", "user_permissions")

    @admin.action(description="Deactivate selected users", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        targets = queryset.filter(is_active=True).exclude(pk=request.user.pk)
        if not request.user.is_superuser:
            targets = targets.exclude(is_superuser=True)
        count = targets.update(is_active=False)
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)
