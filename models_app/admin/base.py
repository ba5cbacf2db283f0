"""What every governance admin page shares: service-backed saves, read-only rows, list filters."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import IntegerField, JSONField, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.html import format_html

from models_app.choices import Stage
from models_app.exceptions import RegistryError
from models_app.inputs import StrictJSONFormField, is_ascii_int
from models_app.models import (
    ModelVersion,
    RegisteredModel,
)


class _ServiceRefused(Exception):
    """Carries a RegistryError out of save_model so the form can be shown again with it."""

    def __init__(self, error: RegistryError):
        super().__init__(str(error))
        self.error = error


class AsciiObjectIdMixin:
    """An integer object id in an admin URL is ASCII digits only: the model field's ``int`` would read
    "/\u0661/change/" as row 1."""

    def get_object(self, request, object_id, from_field=None):
        field = self.model._meta.pk if from_field is None else self.model._meta.get_field(from_field)
        if isinstance(field, IntegerField) and not is_ascii_int(str(object_id)):
            return None  # the admin's own "does not exist" answer
        return super().get_object(request, object_id, from_field)


class ServiceFormAdmin(AsciiObjectIdMixin, admin.ModelAdmin):
    """An admin whose saves call a service; a refusal comes back as a form error, never a 500.

    Django validates the form before ``save_model`` runs, so a service refusal arrives too late to be
    a form error. The refusal aborts the admin's transaction, and the page is rendered once more
    with a form that reports it; the user's input stays in the form.
    """

    formfield_overrides = {JSONField: {"form_class": StrictJSONFormField}}

    def run_service(self, service, **kwargs):
        try:
            return service(**kwargs)
        except RegistryError as exc:
            raise _ServiceRefused(exc) from exc

    @staticmethod
    def edited(form, names) -> dict:
        """The fields among ``names`` that the form changed, with their new values (for an update service)."""
        return {name: form.cleaned_data[name] for name in names if name in form.changed_data}

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


def pretty_json_field(name: str, description: str):
    """A read-only admin field that shows the JSON field ``name`` indented (a dash when empty)."""

    @admin.display(description=description)
    def show(self, obj):
        return _pretty_json(getattr(obj, name))

    return show


class ReadOnlyMixin:
    """Rows that only services write: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(AsciiObjectIdMixin, ReadOnlyMixin, admin.ModelAdmin):
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
