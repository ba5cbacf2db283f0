"""Reads of versions and their files, and version references (numbers, stages, ``@alias``)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from models_app import rules
from models_app.choices import Stage
from models_app.exceptions import (
    FileNotFound,
    VersionNotFound,
)
from models_app.models import (
    ArtifactFile,
    LedgerEntry,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
)
from models_app.selectors.holds import model_holds_prefetch, version_holds_prefetch
from models_app.selectors.pipeline import deployment_current_prefetch
from models_app.selectors.version_rows import version_ref_filter


def version_list(*, registered_model: RegisteredModel | None = None) -> QuerySet[ModelVersion]:
    """Versions with everything their representation shows, newest first."""
    qs = ModelVersion.objects.select_related(
        "registered_model", "registered_model__team", "created_by", "parent", "origin__run__experiment"
    )
    qs = qs.prefetch_related(
        "files",
        Prefetch("aliases", queryset=ModelAlias.objects.order_by("name")),
        deployment_current_prefetch(),
        version_holds_prefetch(),
        model_holds_prefetch("registered_model__"),
    )
    if registered_model is not None:
        qs = qs.filter(registered_model=registered_model)
    return qs.order_by("registered_model_id", "-version")


def version_get(*, registered_model: RegisteredModel, ref: str | int) -> ModelVersion:
    """Resolve a version reference: a number, ``latest``, a stage name, or ``@alias``.

    ``latest`` is the newest ready version; ``staging`` the newest version in Staging.
    """
    condition, ref_text = version_ref_filter(ref)
    version = version_list(registered_model=registered_model).filter(condition).first()
    if version is None:
        raise VersionNotFound(f"'{registered_model.name}' has no version '{ref_text}'.", field="ref")
    return version


def version_file_get(*, version: ModelVersion, path: str) -> ArtifactFile:
    """The file record of ``version`` at ``path``; only ready versions can be downloaded."""
    rules.refuse(rules.version_usable(version, to="be downloaded", field="ref"))
    record = ArtifactFile.objects.filter(version=version, path=path).first()
    if record is None:
        raise FileNotFound(
            f"v{version.version} of '{version.registered_model.name}' has no file {path!r}.", field="path"
        )
    return record


def version_list_children(*, version: ModelVersion) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(parent=version).select_related("registered_model").order_by("version")


def version_ever_in_production(*, version: ModelVersion) -> bool:
    return LedgerEntry.objects.filter(version=version, to_stage=Stage.PRODUCTION).exists()


def version_lineage(*, version: ModelVersion, limit: int = 12) -> list[ModelVersion]:
    """``version`` and its chain of parent versions, newest first, at most ``limit`` long (a parent is
    always an older version, so the chain ends)."""
    chain = [version]
    seen = {version.pk}
    while len(chain) < limit and chain[-1].parent_id and chain[-1].parent_id not in seen:
        parent = (
            ModelVersion.objects.select_related("registered_model").filter(pk=chain[-1].parent_id).first()
        )
        if parent is None:
            break
        seen.add(parent.pk)
        chain.append(parent)
    return chain
