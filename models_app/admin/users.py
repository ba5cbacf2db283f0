"""Users and their roles and teams; deactivated, never deleted."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from models_app import services
from models_app.admin.base import ServiceFormAdmin
from models_app.choices import Role
from models_app.exceptions import RegistryError

admin.site.unregister(User)


@admin.register(User)
class RegistryUserAdmin(ServiceFormAdmin, UserAdmin):
    """Users are deactivated, not deleted: the ledger refers to them forever.

    Only superusers delete users, grant superuser status or edit a superuser; Governance manages
    everyone else and their groups (roles and teams). Deactivating someone, by the action or by
    unticking "active", goes through ``user_deactivate``: their tokens stop working at once and their
    pending requests are cancelled.
    """

    list_display = ("username", "full_name", "email", "roles", "teams", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    actions = ("deactivate_selected",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj):
        return obj.get_full_name()

    @admin.display(description="Roles")
    def roles(self, obj):
        """The registry roles (role groups), and superuser status, which holds every role."""
        names = sorted(g.name for g in obj.groups.all() if g.name in Role.values)
        return ", ".join(["Superuser", *names] if obj.is_superuser else names) or "—"

    @admin.display(description="Teams")
    def teams(self, obj):
        """Every other group is a team."""
        return ", ".join(sorted(g.name for g in obj.groups.all() if g.name not in Role.values)) or "—"

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

    def save_model(self, request, obj, form, change):
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        if deactivating:
            obj.is_active = True  # the service makes that change, with everything it entails
        super().save_model(request, obj, form, change)
        if deactivating:
            self.run_service(services.user_deactivate, user=obj, actor=request.user)

    @admin.action(description="Deactivate selected users", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        count = 0
        for user in queryset.filter(is_active=True):
            try:
                count += services.user_deactivate(user=user, actor=request.user)
            except RegistryError as exc:
                self.message_user(request, f"{user.get_username()}: {exc}", messages.ERROR)
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)
