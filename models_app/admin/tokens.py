"""API tokens: issued here for a user (the plaintext is shown once) and revoked, never deleted."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from models_app.admin.base import ServiceFormAdmin, _copy_saved
from models_app.inputs import AsciiIntegerField
from models_app.models import (
    ApiToken,
)
from models_app.services.tokens import api_token_create, api_token_revoke


class ApiTokenCreateForm(forms.ModelForm):
    expires_in_days = AsciiIntegerField(
        required=False, min_value=1, max_value=3650, help_text="Leave empty for a token that does not expire."
    )

    class Meta:
        model = ApiToken
        fields = ("user", "name")


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceFormAdmin):
    """Tokens are issued here for a user (the plaintext is shown once) and revoked; never deleted."""

    list_display = (
        "name",
        "user",
        "prefix",
        "usable",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_select_related = ("user",)
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "expires_at", "created_at")
    search_fields = ("name", "prefix", "user__username")
    autocomplete_fields = ("user",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    actions = ("revoke_selected",)
    # token_hash is never listed: a hash of a high-entropy secret is still not for display.
    change_fields = ("user", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "expires_in_days")
        return self.change_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.change_fields

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="Usable")
    def usable(self, obj):
        return obj.is_usable()

    def save_model(self, request, obj, form, change):
        if change:
            return  # every field is read-only once issued; revocation is an action
        token, plaintext = self.run_service(
            api_token_create,
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            expires_in_days=form.cleaned_data.get("expires_in_days"),
        )
        _copy_saved(token, obj)
        self.message_user(
            request,
            format_html(
                "Token for {}: <code>{}</code> Copy it now: only its hash is stored, "
                "and it will not be shown again.",
                token.user.get_username(),
                plaintext,
            ),
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request, queryset):
        count = 0
        for token in queryset:
            if token.revoked_at is None:
                api_token_revoke(token=token)
                count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
