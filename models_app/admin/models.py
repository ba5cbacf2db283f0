"""Registered models: created and changed through the services, never deleted."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from models_app import rules, selectors, services
from models_app.admin.base import HasStageFilter, ModelTagFilter, ServiceFormAdmin, _copy_saved
from models_app.admin.holds import reason_action
from models_app.models import (
    RegisteredModel,
)


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ServiceFormAdmin):
    """Models: created and changed through registered_model_create / registered_model_update."""

    list_display = (
        "name",
        "team",
        "required_approvals",
        "production_version",
        "latest_version",
        "held",
        "versions_link",
        "history_link",
        "created_by",
        "updated_at",
    )
    list_select_related = ("team", "created_by")
    list_filter = (
        ("team", admin.RelatedOnlyFieldListFilter),
        HasStageFilter,
        ModelTagFilter,
        ("created_by", admin.RelatedOnlyFieldListFilter),
        "created_at",
    )
    search_fields = ("name", "description", "tags", "created_by__username", "team__name")
    autocomplete_fields = ("team",)
    ordering = ("name",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ("hold_selected", "release_hold_selected")
    fields = (
        "name",
        "description",
        "tags",
        "team",
        "required_approvals",
        "last_version_number",
        "created_by",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request):
        return selectors.registered_model_list()

    def get_readonly_fields(self, request, obj=None):
        readonly = ["last_version_number", "created_by", "created_at", "updated_at"]
        if obj is not None:
            # Versions, aliases and the ledger refer to the model by name; there is no rename service.
            readonly.insert(0, "name")
        return readonly

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Production")
    def production_version(self, obj):
        number = getattr(obj, "production_version", None)
        return f"v{number}" if number else "—"

    @admin.display(description="Latest")
    def latest_version(self, obj):
        number = getattr(obj, "latest_version", None)
        return f"v{number}" if number else "—"

    @admin.display(description="Held", boolean=True)
    def held(self, obj):
        return selectors.hold_of_model(registered_model=obj) is not None

    def has_govern_permission(self, request):
        return rules.may_hold(request.user) is None

    @admin.action(
        description="Place a legal hold on every version of the selected models", permissions=["govern"]
    )
    def hold_selected(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Place legal holds on models",
            verb="place a legal hold on every version of these models",
            service=lambda m, reason: services.model_hold(
                registered_model=m, actor=request.user, reason=reason
            ),
            describe=str,
            success=lambda m, hold: f"{m}: every version is under a legal hold.",
        )

    @admin.action(description="Release the legal holds of the selected models", permissions=["govern"])
    def release_hold_selected(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Release legal holds on models",
            verb="release the legal holds of these models",
            service=lambda m, reason: services.hold_release(
                registered_model=m, actor=request.user, reason=reason
            ),
            describe=str,
            success=lambda m, hold: f"{m}: legal hold released.",
        )

    @admin.display(description="Versions")
    def versions_link(self, obj):
        url = reverse("admin:models_app_modelversion_changelist")
        return format_html('<a href="{}?registered_model__id__exact={}">versions</a>', url, obj.pk)

    @admin.display(description="At a moment")
    def history_link(self, obj):
        url = reverse("admin:models_app_registeredmodel_history_at", args=[obj.pk])
        return format_html('<a href="{}">history</a>', url)

    def get_urls(self):
        history = path(
            "<path:object_id>/history-at/",
            self.admin_site.admin_view(self.history_at_view),
            name="models_app_registeredmodel_history_at",
        )
        return [history, *super().get_urls()]

    def history_at_view(self, request, object_id):
        """Point-in-time answers from the ledger alone, the same page the reviewer UI shows."""
        model = self.get_object(request, object_id)
        if model is None or not self.has_view_permission(request, model):
            raise PermissionDenied
        query = selectors.registered_model_history_at_text(
            registered_model=model, at_text=request.GET.get("at")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{model.name} at a moment",
            "model": model,
            "at_text": query.at_text,
            "error": query.error,
            "snapshot": query.snapshot,
        }
        status = 400 if query.error else 200
        return TemplateResponse(
            request, "admin/models_app/registeredmodel/history_at.html", context, status=status
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changed = self.edited(form, ("description", "tags", "required_approvals", "team"))
            saved = self.run_service(
                services.registered_model_update,
                registered_model=RegisteredModel.objects.get(pk=obj.pk),
                actor=request.user,
                **changed,
            )
        else:
            saved = self.run_service(
                services.registered_model_create,
                name=data["name"],
                team=data["team"],
                actor=request.user,
                description=data.get("description") or "",
                tags=data.get("tags") or {},
                required_approvals=data.get("required_approvals") or 1,
            )
        _copy_saved(saved, obj)
