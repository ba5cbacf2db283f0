"""Versions read in one query each, for the API.

What a version's representation shows besides its own row (its files, the aliases pointing at it, where
it is deployed now, the legal hold keeping its files) comes as JSON columns aggregated by correlated
subqueries instead of prefetches: one version is one query, a page of versions one query (plus the
page count) whatever its size, and nothing is read that the representation does not show.
"""

from __future__ import annotations

from datetime import UTC

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Exists,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from models_app.aggregates import json_rows_of
from models_app.choices import Stage, VersionStatus
from models_app.compiled import CompiledQuery
from models_app.exceptions import ModelNotFound, VersionNotFound
from models_app.inputs import is_ascii_int
from models_app.models import (
    ArtifactFile,
    Deployment,
    Experiment,
    LegalHold,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Run,
)
from models_app.names import canonical_name


def _newer_report() -> Exists:
    """A later deployment report of the same model to the same environment (inside a Deployment query)."""
    return Exists(
        Deployment.objects.filter(
            registered_model_id=OuterRef("registered_model_id"),
            environment=OuterRef("environment"),
            id__gt=OuterRef("id"),
        )
    )


_BASE: list[QuerySet[ModelVersion]] = []


def version_rows() -> QuerySet[ModelVersion]:
    """Versions with ``file_rows``, ``alias_names``, ``deployment_rows`` and ``hold_row`` as JSON columns
    (the API's fields read them), newest first within each model.

    The annotated queryset is built once per process and cloned for each use: resolving its subqueries
    costs more than the query itself."""
    if not _BASE:
        _BASE.append(_version_rows())
    return _BASE[0].all()


def _unshown(path: str, model, shown: set[str]) -> list[str]:
    return [
        f"{path}__{f.name}" for f in model._meta.concrete_fields if not f.primary_key and f.name not in shown
    ]


# The joined rows' columns the representation never shows: left unread, they cost neither the transfer
# nor the decoding (the parent version's metadata alone is a dozen JSON columns per row).
_UNSHOWN = (
    _unshown("registered_model", RegisteredModel, {"name", "team"})
    + _unshown("created_by", get_user_model(), {"username"})
    + _unshown("parent", ModelVersion, {"version"})
    + _unshown("origin__run", Run, {"experiment"})
    + _unshown("origin__run__experiment", Experiment, {"name"})
)


def _version_rows() -> QuerySet[ModelVersion]:
    files = json_rows_of(
        ArtifactFile.objects.filter(version_id=OuterRef("pk")),
        JSONObject(path="path", size="size", sha256="sha256", content_type="content_type"),
    )
    aliases = json_rows_of(ModelAlias.objects.filter(version_id=OuterRef("pk")), F("name"))
    deployments = json_rows_of(
        Deployment.objects.filter(version_id=OuterRef("pk")).filter(~_newer_report()),
        JSONObject(
            environment="environment",
            status="status",
            url="url",
            reported_by="reported_by__username",
            reported_at="reported_at",
        ),
    )
    # The version's own active hold first, else its model's (``selectors.hold_covering``).
    hold = (
        LegalHold.objects.filter(released_at__isnull=True)
        .filter(
            Q(version_id=OuterRef("pk"))
            | Q(version__isnull=True, registered_model_id=OuterRef("registered_model_id"))
        )
        .order_by(F("version_id").asc(nulls_last=True))
        .values(
            row=JSONObject(
                version="version_id",
                reason="reason",
                placed_by="placed_by__username",
                placed_at="placed_at",
                object_lock="object_lock",
            )
        )[:1]
    )
    return (
        ModelVersion.objects.select_related(
            "registered_model", "created_by", "parent", "origin__run__experiment"
        )
        .defer(*_UNSHOWN)
        .annotate(
            file_rows=files,
            alias_names=aliases,
            deployment_rows=deployments,
            hold_row=Subquery(hold, output_field=JSONField()),
        )
        .order_by("registered_model_id", "-version")
    )


def json_datetime(value):
    """A timestamp as a JSON column carries it (ISO text; naive UTC on SQLite) as an aware datetime."""
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _version_ref(ref) -> tuple[str, object, str]:
    """What a version reference names: (kind, value, the reference as text). Kinds: ``number`` (ASCII
    digits), ``latest``, ``stage`` (a stage name) and ``alias`` (``@name``)."""
    ref_text = str(ref).strip()
    if is_ascii_int(ref_text):
        return "number", int(ref_text), ref_text
    if ref_text == "latest":
        return "latest", None, ref_text
    if ref_text in Stage.values and ref_text != Stage.NONE:
        return "stage", ref_text, ref_text
    if ref_text.startswith("@") and len(ref_text) > 1:
        return "alias", ref_text[1:], ref_text
    raise VersionNotFound(
        f"'{ref_text}' is not a version reference; use a number, 'latest', 'production', 'staging', "
        "'archived' or '@alias'.",
        field="ref",
    )


def _ref_q(kind: str, value) -> Q:
    if kind == "number":
        return Q(version=value)
    if kind == "latest":
        return Q(status=VersionStatus.READY)
    if kind == "stage":
        return Q(stage=value)
    return Q(aliases__name=value)


def version_ref_filter(ref) -> tuple[Q, str]:
    """The filter a version reference stands for (the newest match is meant) and the reference as text:
    a number of ASCII digits, ``latest``, a stage name or ``@alias``."""
    kind, value, ref_text = _version_ref(ref)
    return _ref_q(kind, value), ref_text


def _read_shape(kind: str):
    """The version read for one kind of reference: the model's id as a sub-select (an InitPlan), not a
    join on its name, so PostgreSQL walks the (model, number) index of that one model newest first
    instead of choosing, for ``latest``, an index over the status of every version of every model."""

    def build(name, value=None):
        model_id = RegisteredModel.objects.filter(name=name).values("pk")[:1]
        where = _ref_q(kind, value)
        if kind == "alias":
            # The alias's version id as a sub-select too: the version is then found by its primary key.
            alias = ModelAlias.objects.filter(registered_model_id=Subquery(model_id), name=value)
            where = Q(pk=Subquery(alias.values("version_id")[:1]))
        return version_rows().filter(where, registered_model_id=Subquery(model_id)).order_by("-version")[:1]

    return CompiledQuery(build, **_placeholders(kind))


def _placeholders(kind: str) -> dict:
    placeholders = {"name": "\x00model-name\x00"}
    if kind == "number":
        placeholders["value"] = 2_147_480_009
    elif kind != "latest":
        placeholders["value"] = "\x00ref-value\x00"
    return placeholders


def _find(shapes: dict[str, CompiledQuery], name: str, ref) -> ModelVersion:
    """The version ``ref`` names, read by the shape for its kind; ModelNotFound or VersionNotFound."""
    kind, value, ref_text = _version_ref(ref)
    found = []
    if kind != "number" or version_number_fits(value):
        values = {"name": canonical_name(name)} | ({} if kind == "latest" else {"value": value})
        found = shapes[kind].run(**values)
    if not found:
        model = registered_model_row(name=name)
        raise VersionNotFound(f"'{model.name}' has no version '{ref_text}'.", field="ref")
    return found[0]


def version_number_fits(number: int) -> bool:
    """Whether the version column can hold ``number`` (a number it cannot hold names no version; a
    compiled query would hand it to the database, which refuses it instead of finding nothing)."""
    low, high = connection.ops.integer_field_range(
        ModelVersion._meta.get_field("version").get_internal_type()
    )
    return (low is None or number >= low) and (high is None or number <= high)


_KINDS = ("number", "latest", "stage", "alias")
_READS = {kind: _read_shape(kind) for kind in _KINDS}


def registered_model_row(*, name: str) -> RegisteredModel:
    """A model by name (canonical form) with its team and nothing else; ModelNotFound otherwise. For
    requests about its versions, which never show the model's list annotations."""
    found = _MODEL_ROW.run(name=canonical_name(name))
    if not found:
        raise ModelNotFound(f"No model named '{name}'.", field="name")
    return found[0]


# Every request under /models/{name}/ starts with it (compiled once per process).
_MODEL_ROW = CompiledQuery(
    lambda name: RegisteredModel.objects.select_related("team").filter(name=name).order_by("pk")[:1],
    name="\x00model-name\x00",
)


_PAGE = CompiledQuery(
    lambda model_id: version_rows().filter(registered_model_id=model_id), sliced=True, model_id=2_147_480_011
)


class VersionsOfModel:
    """A model's versions newest first, as ``version_rows`` reads them, for a paginator: ``count()`` and
    slices, each slice one query compiled once per process. What the version list pages when it is not
    filtered (filters need a queryset: ``version_rows().filter(...)``)."""

    def __init__(self, registered_model: RegisteredModel):
        self._model = registered_model

    def count(self) -> int:
        return ModelVersion.objects.filter(registered_model_id=self._model.pk).count()

    def __getitem__(self, index: slice) -> list[ModelVersion]:
        if not isinstance(index, slice) or index.step is not None:
            raise TypeError("Versions are read in pages: slice them with [start:stop].")
        start, stop = index.start or 0, index.stop
        if stop is None or stop <= start:
            return []
        return _PAGE.run(model_id=self._model.pk, offset=start, limit=stop - start)


def version_read(*, name: str, ref) -> ModelVersion:
    """The version ``ref`` names (a number, ``latest``, a stage or ``@alias``) of the model ``name``, as
    ``version_rows`` reads it: one query, compiled once per process. ModelNotFound or VersionNotFound
    otherwise."""
    return _find(_READS, name, ref)


def version_row_get(*, registered_model: RegisteredModel, ref) -> ModelVersion:
    """The version ``ref`` names, the row alone (with ``registered_model`` set to the model given): what a
    write or a download needs before its service reads the version again under the model's lock."""
    where, ref_text = version_ref_filter(ref)
    version = (
        ModelVersion.objects.filter(where, registered_model=registered_model).order_by("-version").first()
    )
    if version is None:
        raise VersionNotFound(f"'{registered_model.name}' has no version '{ref_text}'.", field="ref")
    version.registered_model = registered_model
    return version


def _row_shape(kind: str) -> CompiledQuery:
    """The version row (its model and team joined) for one kind of reference, as ``_read_shape``."""

    def build(name, value=None):
        model_id = RegisteredModel.objects.filter(name=name).values("pk")[:1]
        return (
            ModelVersion.objects.select_related("registered_model__team")
            .filter(_ref_q(kind, value), registered_model_id=Subquery(model_id))
            .order_by("-version")[:1]
        )

    return CompiledQuery(build, **_placeholders(kind))


_ROWS = {kind: _row_shape(kind) for kind in _KINDS}


def version_row_find(*, name: str, ref) -> ModelVersion:
    """``version_row_get`` for a model given by name: the version row with its model (and team) joined, in
    one query compiled once per process. ModelNotFound or VersionNotFound otherwise."""
    return _find(_ROWS, name, ref)
