"""Versions, their files and aliases: read-only but for a version's description and tags; Governance
purges files and places or releases legal holds with actions that call the services."""

from __future__ import annotations

from django.contrib import admin

from models_app import rules, selectors, services
from models_app.admin.base import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceFormAdmin,
    VersionModelTagFilter,
    VersionTagFilter,
    _copy_saved,
    pretty_json_field,
)
from models_app.admin.holds import reason_action
from models_app.models import (
    ArtifactFile,
    LedgerEntry,
    ModelAlias,
    ModelVersion,
)


class ArtifactFileInline(ReadOnlyInline):
    """A version's files: labels, sizes and checksums. Never editable; storage keys stay internal."""

    model = ArtifactFile
    fields = ("path", "size", "sha256", "content_type", "created_at")
    readonly_fields = fields
    ordering = ("path",)


class LedgerInline(ReadOnlyInline):
    """The ledger rows about one version, oldest first."""

    model = LedgerEntry
    fk_name = "version"
    fields = (
        "created_at",
        "kind",
        "from_stage",
        "to_stage",
        "alias",
        "actor_username",
        "transition_request",
        "comment",
    )
    readonly_fields = fields
    ordering = ("id",)
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transition_request")


@admin.register(ModelVersion)
class ModelVersionAdmin(ServiceFormAdmin):
    """Versions: registered through the API only; here their lineage, files and ledger are shown.

    Only the description and tags can be edited (through services.version_update); the number, stage,
    status, metadata and files never change here.
    """

    list_display = (
        "__str__",
        "registered_model",
        "version",
        "stage",
        "status",
        "held",
        "team",
        "created_by",
        "created_at",
    )
    list_display_links = ("__str__",)
    list_select_related = ("registered_model", "registered_model__team", "created_by")
    list_filter = (
        "stage",
        "status",
        ("registered_model__team", admin.RelatedOnlyFieldListFilter),
        ("registered_model", admin.RelatedOnlyFieldListFilter),
        VersionTagFilter,
        VersionModelTagFilter,
        ("created_by", admin.RelatedOnlyFieldListFilter),
        "created_at",
    )
    search_fields = (
        "registered_model__name",
        "tags",
        "description",
        "source_commit",
        "source_repository",
        "created_by__username",
    )
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    raw_id_fields = ("parent",)
    inlines = (ArtifactFileInline, LedgerInline)
    actions = ("purge_selected", "hold_selected", "release_hold_selected")
    fieldsets = (
        (None, {"fields": ("registered_model", "version", "stage", "status", "status_reason", "hold")}),
        ("Card", {"fields": ("description", "tags")}),
        (
            "Source",
            {"fields": ("source_repository", "source_commit", "source_branch", "source_dirty", "run_url")},
        ),
        (
            "Lineage",
            {
                "fields": (
                    "parent",
                    "datasets_pretty",
                    "parameters_pretty",
                    "metrics_pretty",
                    "environment_pretty",
                    "signature_pretty",
                )
            },
        ),
        ("Registration", {"fields": ("created_by", "created_at", "idempotency_key")}),
    )
    # Everything shown but the card is read-only.
    readonly_fields = tuple(
        name for _, options in fieldsets for name in options["fields"] if name not in ("description", "tags")
    )

    def get_queryset(self, request):
        return selectors.version_list()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Team", ordering="registered_model__team__name")
    def team(self, obj):
        return obj.registered_model.team.name

    @admin.display(description="Held", boolean=True)
    def held(self, obj):
        return selectors.hold_covering(version=obj) is not None

    @admin.display(description="Legal hold")
    def hold(self, obj):
        hold = selectors.hold_covering(version=obj)
        if hold is None:
            return "—"
        scope = "on the whole model" if hold.version_id is None else "on this version"
        return (
            f"Held {scope} since {hold.placed_at:%Y-%m-%d %H:%M} UTC by {hold.placed_by.get_username()}: "
            f"{hold.reason}" + (" (S3 Object Lock legal hold on the objects)" if hold.object_lock else "")
        )

    def has_govern_permission(self, request):
        return rules.may_purge(request.user) is None

    @admin.action(description="Purge the files of the selected versions", permissions=["govern"])
    def purge_selected(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Purge the files of versions",
            verb="purge the files of these versions",
            service=lambda v, reason: services.version_purge(version=v, actor=request.user, reason=reason),
            describe=str,
            success=lambda v, result: f"{v}: files purged ({result.bytes_freed} bytes freed).",
        )

    @admin.action(description="Place a legal hold on the selected versions", permissions=["govern"])
    def hold_selected(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Place legal holds",
            verb="place a legal hold on these versions",
            service=lambda v, reason: services.version_hold(version=v, actor=request.user, reason=reason),
            describe=str,
            success=lambda v, hold: f"{v} is under a legal hold.",
        )

    @admin.action(description="Release the legal holds of the selected versions", permissions=["govern"])
    def release_hold_selected(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Release legal holds",
            verb="release the legal holds of these versions",
            service=lambda v, reason: services.hold_release(version=v, actor=request.user, reason=reason),
            describe=str,
            success=lambda v, hold: f"{v}: legal hold released.",
        )

    datasets_pretty = pretty_json_field("datasets", "Datasets")
    parameters_pretty = pretty_json_field("parameters", "Parameters")
    metrics_pretty = pretty_json_field("metrics", "Metrics")
    environment_pretty = pretty_json_field("environment", "Environment")
    signature_pretty = pretty_json_field("signature", "Signature")

    def save_model(self, request, obj, form, change):
        changed = self.edited(form, ("description", "tags"))
        # A fresh row: the form instance is only a carrier of the two editable fields.
        current = ModelVersion.objects.select_related("registered_model").get(pk=obj.pk)
        saved = self.run_service(services.version_update, version=current, actor=request.user, **changed)
        _copy_saved(saved, obj)

    def save_formset(self, request, form, formset, change):
        # Both inlines are read-only: whatever was posted for files or ledger rows is never saved.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(ArtifactFile)
class ArtifactFileAdmin(ReadOnlyAdmin):
    """Files across versions, searchable by checksum or path."""

    list_display = ("path", "version", "size", "sha256", "content_type", "created_at")
    list_select_related = ("version", "version__registered_model")
    list_filter = ("content_type", "created_at")
    search_fields = ("=sha256", "path", "version__registered_model__name")
    fields = ("version", "path", "size", "sha256", "content_type", "created_at")
    readonly_fields = fields
    ordering = ("-id",)


@admin.register(ModelAlias)
class ModelAliasAdmin(ReadOnlyAdmin):
    """Aliases move only through the API (compare-and-set) so every move is in the ledger."""

    list_display = ("__str__", "registered_model", "name", "version", "updated_by", "updated_at")
    list_select_related = ("registered_model", "version", "version__registered_model", "updated_by")
    list_filter = (("registered_model", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "registered_model__name")
    fields = ("registered_model", "name", "version", "updated_by", "updated_at")
    readonly_fields = fields
    ordering = ("registered_model__name", "name")
