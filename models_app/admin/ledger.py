"""The append-only ledger in the admin: filter, search, inspect, export and verify its hash chain;
nothing here can change it."""

from __future__ import annotations

from datetime import UTC

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from models_app import selectors
from models_app.admin.base import ReadOnlyAdmin
from models_app.audit_anchor import verify_ledger
from models_app.choices import stage_label
from models_app.exports import ledger_csv_response
from models_app.models import (
    LedgerEntry,
)

VERIFY_URL_NAME = "models_app_ledgerentry_verify"


class LedgerVerificationMixin:
    """Mix into the ledger's ModelAdmin: adds ``verify/`` and a link to it on the changelist.

    The walk runs on demand (it reads every row), not on each changelist view.
    """

    def get_urls(self):
        verify = path("verify/", self.admin_site.admin_view(self.verify_chain_view), name=VERIFY_URL_NAME)
        # Before the defaults: their "<path:object_id>/" pattern would swallow it.
        return [verify, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "ledger_verify_url": reverse(f"{self.admin_site.name}:{VERIFY_URL_NAME}"),
        }
        return super().changelist_view(request, extra_context)

    def verify_chain_view(self, request):
        """Walk the chain now, compare it with the newest checkpoint and show the verdict, naming the first
        broken row (or the checkpoint a rewound ledger falls short of)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = verify_ledger()
        if report.ok:
            messages.success(request, f"Ledger intact: {report.checked} row(s) verified.")
            if report.anchor is not None and report.anchor.status != "consistent":
                messages.warning(
                    request, f"Checkpoint not compared ({report.anchor.status}): {report.anchor.detail}"
                )
        elif report.kind == "rewound":
            messages.error(request, f"Ledger rewound: {report.problem}")
        else:
            messages.error(request, f"Ledger tampered ({report.kind}): {report.problem}")
        bad_row_url = None
        if report.first_bad_id is not None:
            bad_row_url = reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[report.first_bad_id],
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Ledger hash-chain verification",
            "report": report,
            "bad_row_url": bad_row_url,
        }
        return TemplateResponse(request, "admin/models_app/ledgerentry/verify.html", context)


def _ledger_csv_response(queryset: QuerySet[LedgerEntry]) -> StreamingHttpResponse:
    rows = queryset.select_related("registered_model", "version").order_by("id").iterator(chunk_size=2000)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return ledger_csv_response(rows, filename=f"ledger-{stamp}.csv")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(LedgerVerificationMixin, ReadOnlyAdmin):
    """The append-only ledger: filter, search, inspect and export; nothing here can change it."""

    # Few, narrow columns so the actor is on screen beside the navigation and filters at 1366 px: the
    # time links the row, the two stages are one column, and the alias and request number go with the kind
    # (as in the reviewer UI's ledger).
    list_display = (
        "when",
        "what",
        "model_name",
        "version_number",
        "stage_change",
        "actor_name",
        "short_comment",
    )
    list_display_links = ("when",)
    list_select_related = ("registered_model", "version", "transition_request")
    list_filter = (
        "kind",
        ("registered_model", admin.RelatedFieldListFilter),
        "to_stage",
        "created_at",
    )
    search_fields = ("actor_username", "registered_model__name", "=request_id")
    ordering = ("-id",)
    date_hierarchy = "created_at"
    actions = ("export_selected_csv",)
    change_list_template = "admin/models_app/ledgerentry/change_list.html"
    # A row's columns (its id is in the title), with the model and the user as links and the username as
    # the row recorded it.
    fields = tuple(
        name
        for column in LedgerEntry.COLUMNS
        if column != "id"
        for name in {"model": ("registered_model",), "actor": ("actor", "actor_username")}.get(
            column, (column,)
        )
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.ledger_list()

    def get_urls(self):
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_csv_view),
            name="models_app_ledgerentry_export",
        )
        # Before the defaults: their "<path:object_id>/" pattern would swallow it.
        return [export, *super().get_urls()]

    class Media:
        css = {"all": ["models_app/admin.css"]}

    @admin.display(description="When (UTC)", ordering="created_at")
    def when(self, obj):
        return obj.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="Stage change")
    def stage_change(self, obj):
        if not (obj.from_stage and obj.to_stage):
            return "—"
        return f"{stage_label(obj.from_stage)} → {stage_label(obj.to_stage)}"

    @admin.display(description="What", ordering="kind")
    def what(self, obj):
        text = obj.get_kind_display()
        if obj.alias:
            text += f" @{obj.alias}"
        if obj.transition_request_id:
            text += f" (#{obj.transition_request_id})"
        return text

    @admin.display(description="Model", ordering="registered_model__name")
    def model_name(self, obj):
        return obj.registered_model.name

    @admin.display(description="Actor", ordering="actor_username")
    def actor_name(self, obj):
        return obj.actor_username

    @admin.display(description="Version", ordering="version__version")
    def version_number(self, obj):
        return f"v{obj.version.version}" if obj.version_id else "—"

    @admin.display(description="Comment")
    def short_comment(self, obj):
        return obj.comment if len(obj.comment) <= 48 else obj.comment[:47] + "…"

    @admin.action(description="Export selected rows as CSV", permissions=["view"])
    def export_selected_csv(self, request, queryset):
        return _ledger_csv_response(queryset)

    def export_csv_view(self, request):
        """The rows the changelist shows with the same filters and search, as a streamed CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter in the query string.")
        return _ledger_csv_response(changelist.queryset)
