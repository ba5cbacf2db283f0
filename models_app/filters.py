"""FilterSets shared by the API lists and the reviewer UI lists."""

from __future__ import annotations

import re
from datetime import UTC

import django_filters
from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, FloatField, Max, OuterRef, Q, Subquery
from django.db.models.fields.json import HasKey, KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact
from django_filters.fields import IsoDateTimeField

from models_app.choices import LedgerKind, RequestStatus, Stage, VersionStatus
from models_app.inputs import AsciiIntegerField
from models_app.models import Deployment, LedgerEntry, ModelVersion, RegisteredModel, TransitionRequest

_METRIC_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-/]{1,200})(?P<op>>=|<=|>|<|=)(?P<value>-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)\Z"
)
_OPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "exact"}


def _tag_q(value: str, field: str = "tags") -> Q:
    """``key`` (the tag exists) or ``key:value`` (it has that value); any key text, e.g. ``use-case``."""
    key, sep, tag_value = value.partition(":")
    if not key:
        raise ValidationError("Use tag=key or tag=key:value.")
    # Lookup expressions rather than ``tags__<key>`` kwargs: a key may hold '-' or '__'.
    if sep:
        return Q(Exact(KeyTextTransform(key, field), tag_value))
    return Q(HasKey(F(field), key))


class AsciiNumberFilter(django_filters.NumberFilter):
    """A whole-number filter of ASCII digits (``[0-9]+``, optionally signed)."""

    field_class = AsciiIntegerField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time converted to UTC while the form is cleaned.

    PostgreSQL refuses UTC offsets beyond ±15:59 that ISO 8601 parsers accept, so every accepted offset
    is compared in UTC; a time whose offset carries it outside the years 1-9999
    (``0001-01-01T00:00+01:00``) is a validation error, not an OverflowError in the query.
    """

    default_error_messages = {"overflow": "This time with its UTC offset is outside the years 1-9999."}

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["overflow"], code="overflow") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time filter that compares in UTC (``UtcIsoDateTimeField``)."""

    field_class = UtcIsoDateTimeField


def metric_value(name: str, field: str = "metrics"):
    """A version's metric ``name`` as a number (NULL when absent or not a number): what the metric
    filters and orderings of versions and models compare."""
    return Cast(KeyTextTransform(name, field), FloatField())


def production_metric_value(name: str):
    """The model's Production version's metric ``name`` (NULL without one), per model row."""
    production = ModelVersion.objects.filter(registered_model=OuterRef("pk"), stage=Stage.PRODUCTION)
    return Subquery(
        production.annotate(_value=metric_value(name)).values("_value")[:1], output_field=FloatField()
    )


def validate_metric_expression(value: str) -> None:
    if value and not _METRIC_RE.match(value.strip()):
        raise ValidationError(f"{value!r} is not 'name<op>number' (ops: >=, <=, >, <, =).", code="invalid")


_MODEL_ORDERING_RE = re.compile(r"^-?(name|updated_at|metric:[A-Za-z0-9_.\-/]{1,200})\Z")


def validate_model_ordering(value: str) -> None:
    if value and not _MODEL_ORDERING_RE.match(value):
        raise ValidationError(
            "Use name, updated_at or metric:<name>, optionally prefixed with '-'.", code="invalid"
        )


def deployments_differ_from_production() -> Exists:
    """Whether the latest report of some environment names a version that is not the model's Production
    version (or the model has none): what runs is not what the registry says should."""
    latest = (
        Deployment.objects.values("registered_model", "environment").annotate(last=Max("id")).values("last")
    )
    return Exists(
        Deployment.objects.filter(registered_model=OuterRef("pk"), id__in=Subquery(latest)).exclude(
            version__stage=Stage.PRODUCTION
        )
    )


class RegisteredModelFilterSet(django_filters.FilterSet):
    """Models: name substring, tag (key or key:value), team (group name), having a version in a stage, a
    threshold on the Production version's metric, deployments that differ from Production, and ordering
    by name, update time or a Production metric."""

    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    tag = django_filters.CharFilter(method="filter_tag", label="Tag (key or key:value)")
    team = django_filters.ModelChoiceFilter(
        queryset=Group.objects.all(), to_field_name="name", field_name="team", label="Team"
    )
    stage = django_filters.ChoiceFilter(
        choices=[(s.value, s.label) for s in Stage if s != Stage.NONE],
        method="filter_stage",
        label="Has a version in stage",
    )
    metric = django_filters.CharFilter(
        method="filter_metric",
        validators=[validate_metric_expression],
        label="Production metric",
        widget=forms.TextInput(attrs={"placeholder": "auc>=0.9"}),
    )
    deployments = django_filters.ChoiceFilter(
        choices=[("mismatch", "Differ from Production")],
        method="filter_deployments",
        label="Deployments",
        empty_label="Any",
    )
    ordering = django_filters.CharFilter(
        method="filter_ordering",
        validators=[validate_model_ordering],
        label="Order by",
        help_text="name, updated_at or metric:<name>; '-' first for descending",
        widget=forms.TextInput(attrs={"placeholder": "-metric:auc"}),
    )

    class Meta:
        model = RegisteredModel
        fields = ["name", "tag", "team", "stage", "metric", "deployments", "ordering"]

    def filter_tag(self, queryset, name, value):
        try:
            return queryset.filter(_tag_q(value))
        except ValidationError:
            return queryset.none()

    def filter_stage(self, queryset, name, value):
        return queryset.filter(versions__stage=value).distinct()

    def filter_metric(self, queryset, name, value):
        match = _METRIC_RE.match(value.strip())
        return queryset.annotate(_production_metric_filter=production_metric_value(match["name"])).filter(
            **{f"_production_metric_filter__{_OPS[match['op']]}": float(match["value"])}
        )

    def filter_deployments(self, queryset, name, value):
        return queryset.filter(deployments_differ_from_production())

    def filter_ordering(self, queryset, name, value):
        descending = value.startswith("-")
        key = value.lstrip("-")
        if key.startswith("metric:"):
            queryset = queryset.annotate(production_metric=production_metric_value(key[7:]))
            expr = F("production_metric")
            return queryset.order_by(
                expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True), "name"
            )
        return queryset.order_by(f"{'-' if descending else ''}{key}", "name")


class ModelVersionFilterSet(django_filters.FilterSet):
    """Versions: stage, status, tag, author, creation range, commit, dataset URI, metric thresholds."""

    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    status = django_filters.ChoiceFilter(choices=VersionStatus.choices)
    tag = django_filters.CharFilter(method="filter_tag", label="Tag (key or key:value)")
    author = django_filters.CharFilter(field_name="created_by__username", label="Author (username)")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lte")
    commit = django_filters.CharFilter(
        field_name="source_commit", lookup_expr="startswith", label="Commit (prefix)"
    )
    dataset = django_filters.CharFilter(method="filter_dataset", label="Dataset URI")
    metric = django_filters.CharFilter(method="filter_metric", label="Metric threshold, e.g. accuracy>=0.9")
    ordering = django_filters.CharFilter(
        method="filter_ordering",
        label="Order by version, created_at or metric:<name> (prefix '-' for descending)",
    )

    class Meta:
        model = ModelVersion
        fields = [
            "stage",
            "status",
            "tag",
            "author",
            "created_after",
            "created_before",
            "commit",
            "dataset",
            "metric",
        ]

    def filter_tag(self, queryset, name, value):
        try:
            return queryset.filter(_tag_q(value))
        except ValidationError:
            return queryset.none()

    def is_valid(self):
        valid = super().is_valid()
        # Several ``metric`` parameters are allowed; the form field sees only one, so check them all here.
        for expr in self._metric_values():
            if not _METRIC_RE.match(expr.strip()):
                self.form.add_error(
                    "metric",
                    ValidationError(
                        f"{expr!r} is not 'name<op>number' (ops: >=, <=, >, <, =).", code="invalid_metric"
                    ),
                )
                valid = False
        ordering = (self.data.get("ordering") or "").lstrip("-")
        if (
            ordering
            and ordering not in ("version", "created_at")
            and not (ordering.startswith("metric:") and len(ordering) > 7)
        ):
            self.form.add_error(
                "ordering",
                ValidationError(
                    "Use version, created_at or metric:<name>, optionally prefixed with '-'.",
                    code="invalid_ordering",
                ),
            )
            valid = False
        return valid

    def _metric_values(self) -> list[str]:
        getlist = getattr(self.data, "getlist", None)
        values = getlist("metric") if getlist else [self.data.get("metric")]
        return [v for v in values if v]

    def filter_dataset(self, queryset, name, value):
        # Both backends serialize JSON objects as '"uri": "<value>"', so a text match is portable.
        return queryset.filter(datasets__icontains=f'"uri": "{value}"')

    def filter_metric(self, queryset, name, value):
        for expr in self._metric_values():
            match = _METRIC_RE.match(expr.strip())
            alias = f"_metric_{len(queryset.query.annotations)}"
            queryset = queryset.annotate(**{alias: metric_value(match["name"])}).filter(
                **{f"{alias}__{_OPS[match['op']]}": float(match["value"])}
            )
        return queryset

    def filter_ordering(self, queryset, name, value):
        descending = value.startswith("-")
        key = value.lstrip("-")
        if key in ("version", "created_at"):
            return queryset.order_by(f"{'-' if descending else ''}{key}", "-id")
        if key.startswith("metric:") and len(key) > 7:
            expr = metric_value(key[7:])
            order = expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True)
            return queryset.order_by(order, "-version")
        return queryset


class TransitionRequestFilterSet(django_filters.FilterSet):
    """Requests: status, model name, requester username."""

    status = django_filters.ChoiceFilter(choices=RequestStatus.choices)
    model = django_filters.CharFilter(field_name="version__registered_model__name", label="Model name")
    requested_by = django_filters.CharFilter(
        field_name="requested_by__username", label="Requester (username)"
    )

    class Meta:
        model = TransitionRequest
        fields = ["status", "model", "requested_by"]


class LedgerFilterSet(django_filters.FilterSet):
    """Ledger rows: model, version number, actor, kind, time range."""

    model = django_filters.CharFilter(field_name="registered_model__name", label="Model name")
    version = AsciiNumberFilter(field_name="version__version", label="Version number")
    actor = django_filters.CharFilter(field_name="actor_username", label="Actor (username)")
    kind = django_filters.ChoiceFilter(choices=LedgerKind.choices)
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = LedgerEntry
        fields = ["model", "version", "actor", "kind", "since", "until"]


__all__ = [
    "LedgerFilterSet",
    "ModelVersionFilterSet",
    "RegisteredModelFilterSet",
    "TransitionRequestFilterSet",
]
