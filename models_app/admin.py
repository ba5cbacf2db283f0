"""Governance admin.

Governance reads everything here; writes go through the services like every other edge. Versions,
their files, stages and the ledger are never editable: a version's stage changes only through the
request/approve actions (which call the services) or the API.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from models_app import admin_policies, selectors, services  # noqa: F401  (admin_policies registers its admin)
from models_app.admin_audit import LedgerVerificationMixin
from models_app.choices import RequestStatus, Stage
from models_app.exceptions import RegistryError
from models_app.exports import ledger_csv_response
from models_app.models import (
    ApiToken,
    Approval,
    ArtifactFile,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    StageTransition,
    TransitionRequest,
)
from models_app.roles import DECIDE_PERM
from models_app.tokens import api_token_create, api_token_revoke
from models_app.views import history_context

# -- shared pieces ----------------------------------------------------------------------------------


class _ServiceRefused(Exception):
    """Carries a RegistryError out of save_model so the form can be shown again with it."""

    def __init__(self, error: RegistryError):
        super().__init__(str(error))
        self.error = error


class ServiceFormAdmin(admin.ModelAdmin):
    """An admin whose saves call a service; a refusal comes back as a form error, never a 500.

    Django validates the form before ``save_model`` runs, so a service refusal arrives too late to be
    a form error. The refusal aborts the admin's transaction, and the page is rendered once more
    with a form that reports it; the user's input stays in the form.
    """

    def run_service(self, service, **kwargs):
        try:
            return service(**kwargs)
        except RegistryError as exc:
            raise _ServiceRefused(exc) from exc

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ServiceRefused as refused:
            request._registry_error = refused.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        error = getattr(request, "_registry_error", None)
        if error is None:
            return form_class

        class RefusedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                # Service fields look like "tags.owner" or "datasets[0].uri"; the form field is the head.
                head = (error.field or "").split(".")[0].split("[")[0]
                self.add_error(head if head in self.fields else None, str(error))
                return cleaned

        return RefusedForm


def _copy_saved(source, target) -> None:
    """Make the admin's unsaved form instance reflect the row the service wrote."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


def _pretty_json(value) -> str:
    if value in (None, {}, []):
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


class ReadOnlyMixin:
    """Rows that only services write: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """A changelist and detail page over rows written only by services."""

    show_full_result_count = False


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    """An inline of rows written only by services."""

    extra = 0
    max_num = 0
    can_delete = False


class TagFilter(admin.SimpleListFilter):
    """Filter by one ``key=value`` tag; choices come from a bounded sample of the tags in use."""

    title = "tag"
    parameter_name = "tag"
    tag_field = "tags"
    sample_model = RegisteredModel
    sample_size = 1000
    max_choices = 60

    def lookups(self, request, model_admin):
        pairs: set[str] = set()
        for tags in self.sample_model.objects.values_list("tags", flat=True)[: self.sample_size]:
            if isinstance(tags, dict):
                pairs.update(f"{key}={value}" for key, value in tags.items())
        return [(pair, pair) for pair in sorted(pairs)[: self.max_choices]]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        key, sep, tag_value = value.partition("=")
        # KeyTextTransform passes the key as a parameter, so any key (dashes, dots) is safe and exact;
        # the cast makes the comparison plain text (without it SQLite compares the value as JSON).
        queryset = queryset.alias(_tag_value=Cast(KeyTextTransform(key, self.tag_field), TextField()))
        if sep:
            return queryset.filter(_tag_value=tag_value)
        return queryset.filter(_tag_value__isnull=False)


class ModelTagFilter(TagFilter):
    title = "tag"


class VersionTagFilter(TagFilter):
    title = "version tag"
    sample_model = ModelVersion


class VersionModelTagFilter(TagFilter):
    title = "model tag"
    parameter_name = "model_tag"
    tag_field = "registered_model__tags"


class HasStageFilter(admin.SimpleListFilter):
    """Models that have a version in the chosen stage."""

    title = "has a version in"
    parameter_name = "has_stage"

    def lookups(self, request, model_admin):
        return [(s.value, s.label) for s in Stage if s != Stage.NONE]

    def queryset(self, request, queryset):
        if self.value() in Stage.values:
            with_stage = ModelVersion.objects.filter(stage=self.value()).values("registered_model_id")
            return queryset.filter(pk__in=with_stage)
        return queryset


# -- models and versions ----------------------------------------------------------------------------


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ServiceFormAdmin):
    """Models: created and changed through registered_model_create / registered_model_update."""

    list_display = (
        "name",
        "team",
        "required_approvals",
        "production_version",
        "latest_version",
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
        return selectors.model_list()

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
        context, status = history_context(request, model)
        context.update(self.admin_site.each_context(request), title=f"{model.name} at a moment")
        return TemplateResponse(
            request, "admin/models_app/registeredmodel/history_at.html", context, status=status
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changed = {
                name: data[name]
                for name in ("description", "tags", "required_approvals", "team")
                if name in form.changed_data
            }
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
                created_by=request.user,
                description=data.get("description") or "",
                tags=data.get("tags") or {},
                required_approvals=data.get("required_approvals") or 1,
            )
        _copy_saved(saved, obj)


class ArtifactFileInline(ReadOnlyInline):
    """A version's files: labels, sizes and checksums. Never editable; storage keys stay internal."""

    model = ArtifactFile
    fields = ("path", "size", "sha256", "content_type", "created_at")
    readonly_fields = fields
    ordering = ("path",)


class LedgerInline(ReadOnlyInline):
    """The ledger rows about one version, oldest first."""

    model = StageTransition
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
    fieldsets = (
        (None, {"fields": ("registered_model", "version", "stage", "status", "status_reason")}),
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
    readonly_fields = (
        "registered_model",
        "version",
        "stage",
        "status",
        "status_reason",
        "source_repository",
        "source_commit",
        "source_branch",
        "source_dirty",
        "run_url",
        "parent",
        "datasets_pretty",
        "parameters_pretty",
        "metrics_pretty",
        "environment_pretty",
        "signature_pretty",
        "created_by",
        "created_at",
        "idempotency_key",
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

    @admin.display(description="Datasets")
    def datasets_pretty(self, obj):
        return _pretty_json(obj.datasets)

    @admin.display(description="Parameters")
    def parameters_pretty(self, obj):
        return _pretty_json(obj.parameters)

    @admin.display(description="Metrics")
    def metrics_pretty(self, obj):
        return _pretty_json(obj.metrics)

    @admin.display(description="Environment")
    def environment_pretty(self, obj):
        return _pretty_json(obj.environment)

    @admin.display(description="Signature")
    def signature_pretty(self, obj):
        return _pretty_json(obj.signature)

    def save_model(self, request, obj, form, change):
        changed = {
            name: form.cleaned_data[name] for name in ("description", "tags") if name in form.changed_data
        }
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


# -- requests and decisions -------------------------------------------------------------------------


class DecisionForm(forms.Form):
    comment = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=10_000
    )


@admin.register(TransitionRequest)
class TransitionRequestAdmin(ReadOnlyAdmin):
    """Requests to promote versions; reviewers decide them with the actions, which call the services."""

    list_display = (
        "id",
        "version",
        "target_stage",
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
        "target_stage",
        "status",
        "requested_by",
        "comment",
        "created_at",
        "decided_at",
        "decisions",
    )
    readonly_fields = fields
    decide_template = "admin/models_app/transitionrequest/decide.html"

    def get_queryset(self, request):
        return selectors.transition_request_list()

    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE_PERM)

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
                decided = service(transition_request=req, reviewer=request.user, comment=comment)
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


# -- the ledger -------------------------------------------------------------------------------------


def _ledger_csv_response(queryset: QuerySet[StageTransition]) -> StreamingHttpResponse:
    rows = queryset.select_related("registered_model", "version").order_by("id").iterator(chunk_size=2000)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return ledger_csv_response(rows, filename=f"ledger-{stamp}.csv")


@admin.register(StageTransition)
class StageTransitionAdmin(LedgerVerificationMixin, ReadOnlyAdmin):
    """The append-only ledger: filter, search, inspect and export; nothing here can change it."""

    list_display = (
        "id",
        "created_at",
        "kind",
        "registered_model",
        "version_number",
        "from_stage",
        "to_stage",
        "alias",
        "actor_username",
        "transition_request",
        "short_comment",
    )
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
    change_list_template = "admin/models_app/stagetransition/change_list.html"
    fields = (
        "created_at",
        "registered_model",
        "version",
        "kind",
        "from_stage",
        "to_stage",
        "alias",
        "actor",
        "actor_username",
        "transition_request",
        "comment",
        "details",
        "request_id",
        "prev_hash",
        "row_hash",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.ledger_list()

    def get_urls(self):
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_csv_view),
            name="models_app_stagetransition_export",
        )
        # Before the defaults: their "<path:object_id>/" pattern would swallow it.
        return [export, *super().get_urls()]

    @admin.display(description="Version", ordering="version__version")
    def version_number(self, obj):
        return f"v{obj.version.version}" if obj.version_id else "—"

    @admin.display(description="Comment")
    def short_comment(self, obj):
        return obj.comment if len(obj.comment) <= 60 else obj.comment[:59] + "…"

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


# -- API tokens and users ---------------------------------------------------------------------------


class ApiTokenCreateForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(
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


# Pipeline-integration admin (webhooks, deliveries, events, deployments).
import models_app.admin_webhooks  # noqa: E402, F401
