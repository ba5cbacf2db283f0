"""Legal holds and purges in the admin: actions that ask for a reason first, and the hold list (read-only)."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from models_app import selectors
from models_app.admin.base import ReadOnlyAdmin
from models_app.exceptions import RegistryError
from models_app.models import LegalHold

REASON_TEMPLATE = "admin/models_app/reason_action.html"


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=10_000)


def reason_action(
    model_admin,
    request,
    queryset,
    *,
    title: str,
    verb: str,
    service: Callable,
    describe: Callable[[object], str],
    success: Callable[[object, object], str],
):
    """An admin action that asks for a reason on an intermediate page (like Django's delete confirmation),
    then calls ``service(obj, reason)`` for each selected row and reports each outcome as a message."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if not form.is_bound or not form.is_valid():
        context = {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.model._meta,
            "objects": [(obj.pk, describe(obj)) for obj in queryset],
            "action": request.POST.get("action", ""),
            "verb": verb,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, REASON_TEMPLATE, context)
    reason = form.cleaned_data["reason"]
    for obj in queryset:
        try:
            result = service(obj, reason)
        except RegistryError as exc:
            model_admin.message_user(request, f"{describe(obj)}: {exc}", messages.ERROR)
            continue
        model_admin.message_user(request, success(obj, result), messages.SUCCESS)
    return None


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyAdmin):
    """Every legal hold, active and released: placed and released only through the actions on versions
    and models (each a ledger row), never edited here."""

    list_display = (
        "id",
        "registered_model",
        "target",
        "active",
        "object_lock",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "short_reason",
    )
    list_select_related = ("registered_model", "version", "placed_by", "released_by")
    list_filter = (
        ("released_at", admin.EmptyFieldListFilter),
        ("registered_model", admin.RelatedOnlyFieldListFilter),
        "object_lock",
        "placed_at",
    )
    search_fields = ("registered_model__name", "reason", "release_reason", "placed_by__username")
    ordering = ("-placed_at", "-id")
    fields = (
        "registered_model",
        "version",
        "reason",
        "object_lock",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "release_reason",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.hold_list()

    @admin.display(description="Covers")
    def target(self, obj):
        return f"v{obj.version.version}" if obj.version_id else "all versions"

    @admin.display(description="Active", boolean=True)
    def active(self, obj):
        return obj.released_at is None

    @admin.display(description="Reason")
    def short_reason(self, obj):
        return obj.reason if len(obj.reason) <= 60 else obj.reason[:59] + "…"
