"""Transition requests and decisions; reviewers decide with actions that call the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from models_app import rules, selectors, services
from models_app.admin.base import ReadOnlyAdmin
from models_app.choices import RequestStatus
from models_app.exceptions import RegistryError
from models_app.models import (
    Approval,
    TransitionRequest,
)


class DecisionForm(forms.Form):
    comment = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=10_000
    )


@admin.register(TransitionRequest)
class TransitionRequestAdmin(ReadOnlyAdmin):
    """Requests to promote versions, to retire the Production version and to move protected aliases;
    reviewers decide them with the actions, which call the services."""

    list_display = (
        "id",
        "version",
        "target",
        "kind",
        "status",
        "requested_by",
        "approval_count",
        "created_at",
        "decided_at",
    )
    list_display_links = ("id", "version")
    list_select_related = ("version", "version__registered_model", "requested_by")
    list_filter = (
        "status",
        "target_stage",
        ("version__registered_model__team", admin.RelatedOnlyFieldListFilter),
        ("version__registered_model", admin.RelatedOnlyFieldListFilter),
        "created_at",
    )
    search_fields = ("version__registered_model__name", "requested_by__username", "comment")
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
    actions = ("approve_selected", "reject_selected")
    fields = (
        "version",
        "target",
        "kind",
        "status",
        "requested_by",
        "comment",
        "created_at",
        "decided_at",
        "decisions",
    )
    readonly_fields = fields
    decide_template = "admin/models_app/transitionrequest/decide.html"

    @admin.display(description="To", ordering="target_stage")
    def target(self, obj):
        return obj.target

    @admin.display(description="Kind")
    def kind(self, obj):
        return obj.kind.label

    def get_queryset(self, request):
        return selectors.transition_request_list()

    def has_decide_permission(self, request):
        return rules.may_decide(request.user) is None

    @admin.display(description="Approvals")
    def approval_count(self, obj):
        return getattr(obj, "approval_count", None)

    @admin.display(description="Decisions")
    def decisions(self, obj):
        rows = [
            f"{a.reviewer.get_username()}: {a.decision} ({a.created_at:%Y-%m-%d %H:%M})"
            + (f" - {a.comment}" if a.comment else "")
            for a in obj.approvals.all()
        ]
        return "\n".join(rows) or "—"

    @admin.action(description="Approve selected requests", permissions=["decide"])
    def approve_selected(self, request, queryset):
        return self._decide(request, queryset, approve=True)

    @admin.action(description="Reject selected requests", permissions=["decide"])
    def reject_selected(self, request, queryset):
        return self._decide(request, queryset, approve=False)

    def _decide(self, request, queryset, *, approve: bool):
        verb = "approve" if approve else "reject"
        form = DecisionForm(request.POST if "apply" in request.POST else None)
        if not form.is_bound or not form.is_valid():
            # An intermediate page, like Django's delete confirmation, asks for the comment first.
            context = {
                **self.admin_site.each_context(request),
                "title": f"{verb.capitalize()} transition requests",
                "opts": self.model._meta,
                "requests": list(queryset),
                "action": request.POST.get("action", f"{verb}_selected"),
                "verb": verb,
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, self.decide_template, context)
        service = services.transition_request_approve if approve else services.transition_request_reject
        comment = form.cleaned_data["comment"]
        for req in queryset:
            try:
                decided = service(transition_request=req, actor=request.user, comment=comment)
            except RegistryError as exc:
                self.message_user(request, f"Request #{req.pk} ({req.version}): {exc}", messages.ERROR)
                continue
            if decided.status == RequestStatus.PENDING:
                self.message_user(
                    request,
                    f"Request #{req.pk} ({req.version}): your approval is recorded; "
                    "it needs more approvals before the version moves.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request, f"Request #{req.pk} ({req.version}) is {decided.status}.", messages.SUCCESS
                )
        return None


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    """Each reviewer's decision, as recorded; never changed."""

    list_display = ("id", "transition_request", "reviewer", "requester", "decision", "created_at")
    list_select_related = (
        "transition_request",
        "transition_request__version",
        "transition_request__version__registered_model",
        "reviewer",
        "requester",
    )
    list_filter = ("decision", "created_at")
    search_fields = (
        "reviewer__username",
        "requester__username",
        "transition_request__version__registered_model__name",
    )
    fields = ("transition_request", "reviewer", "requester", "decision", "comment", "created_at")
    readonly_fields = fields
    ordering = ("-id",)
