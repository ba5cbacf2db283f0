"""Artifact hygiene: re-verify what is stored, and collect what nothing references.

Used by the ``verify_artifacts`` and ``gc_artifacts`` commands; both work on the filesystem and the
S3 backend. Neither changes a version: gc only removes bytes that no version (and no upload in
progress) refers to, and only once they are older than a grace period, so a registration that is
storing its files right now never loses them. A purged version's files are no longer referred to: gc
finishes a purge whose deletion did not complete. Bytes of a held version (its own legal hold or its
model's) are never removed, whatever its status. Files of tracked runs and logged models (drafts) are
referenced too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from models_app import services
from models_app.choices import UploadStatus, VersionStatus
from models_app.models import ArtifactFile, DraftArtifact, LegalHold, UploadFile
from models_app.storage import objectlock, objectstore
from models_app.storage.artifacts import artifact_storage


@dataclass(frozen=True)
class VerifyProblem:
    """One stored file that does not match its record."""

    file: ArtifactFile
    kind: str  # "missing" or "mismatch"
    detail: str

    def __str__(self) -> str:
        version = self.file.version
        return (
            f"{self.kind.upper()} {version.registered_model.name} v{version.version} {self.file.path} "
            f"({self.file.storage_key}): {self.detail}"
        )


def artifacts_verify(*, model_name: str | None = None) -> Iterator[tuple[ArtifactFile, VerifyProblem | None]]:
    """Re-read every stored file of ready versions (streaming) and compare size and SHA-256.

    Yields (file, problem-or-None) per file. An unreachable store raises StorageUnavailable.
    """
    storage = artifact_storage()
    files = (
        ArtifactFile.objects.select_related("version__registered_model")
        .filter(version__status=VersionStatus.READY)
        .order_by("version__registered_model__name", "version__version", "path")
    )
    if model_name:
        files = files.filter(version__registered_model__name=model_name)
    for record in files.iterator(chunk_size=500):
        try:
            size, digest = objectstore.hash_object(storage, record.storage_key)
        except FileNotFoundError:
            yield record, VerifyProblem(record, "missing", "the stored object does not exist")
            continue
        if size != record.size:
            yield record, VerifyProblem(record, "mismatch", f"size {size}, recorded {record.size}")
        elif digest != record.sha256:
            yield record, VerifyProblem(record, "mismatch", f"SHA-256 {digest}, recorded {record.sha256}")
        else:
            yield record, None


@dataclass
class GcReport:
    """What a garbage collection found and did."""

    expired_uploads: list = field(default_factory=list)
    deleted: list[objectstore.StoredObject] = field(default_factory=list)
    kept_young: int = 0
    referenced: int = 0
    aborted_multipart: list[objectstore.PendingMultipart] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _referenced_keys() -> set[str]:
    """Keys gc must keep: files of every version that is not purged, and of every held version."""
    holds = LegalHold.objects.active()
    held = Q(version__holds__in=holds.filter(version__isnull=False)) | Q(
        version__registered_model__holds__in=holds.filter(version__isnull=True)
    )
    kept = ArtifactFile.objects.filter(~Q(version__status=VersionStatus.PURGED) | held)
    return set(kept.values_list("storage_key", flat=True)) | set(
        DraftArtifact.objects.values_list("storage_key", flat=True)
    )


def _in_progress_keys() -> set[str]:
    return set(
        UploadFile.objects.filter(
            session__status__in=[UploadStatus.OPEN, UploadStatus.COMPLETING]
        ).values_list("storage_key", flat=True)
    )


def artifacts_gc(*, grace: timedelta, dry_run: bool = False) -> GcReport:
    """Delete stored objects under ``artifacts/`` that belong to no version (or only to a purged one that
    no hold covers) and are older than ``grace``; expire abandoned direct uploads and abort stale
    multipart uploads no session owns. A purged version's leftovers are removed with every stored
    version of the object (``objectlock.purge_object``), as the purge would have."""
    report = GcReport()
    storage = artifact_storage()
    now = timezone.now()
    cutoff = now - grace
    if not dry_run:
        report.expired_uploads = services.upload_session_expire_stale(now=now)
    # Listed before the references are read: an object stored and referenced in between is younger
    # than the cutoff anyway, and one referenced before the listing is in the set.
    objects = list(objectstore.list_artifact_objects(storage))
    uploads = list(objectstore.list_multipart_uploads(storage))
    referenced = _referenced_keys() | _in_progress_keys()
    for obj in objects:
        if obj.key in referenced:
            report.referenced += 1
        elif obj.modified > cutoff:
            report.kept_young += 1
        else:
            report.deleted.append(obj)
    open_ids = set(
        UploadFile.objects.filter(
            session__status__in=[UploadStatus.OPEN, UploadStatus.COMPLETING]
        ).values_list("upload_id", flat=True)
    )
    report.aborted_multipart = [u for u in uploads if u.upload_id not in open_ids and u.initiated <= cutoff]
    if dry_run:
        return report
    purged = set(
        ArtifactFile.objects.filter(
            version__status=VersionStatus.PURGED, storage_key__in=[o.key for o in report.deleted]
        ).values_list("storage_key", flat=True)
    )
    for obj in report.deleted:
        try:
            if obj.key in purged:
                objectlock.purge_object(storage, obj.key)
            else:
                storage.delete(obj.key)
        except Exception as exc:  # report and go on: the next run retries
            report.errors.append(f"could not delete {obj.key}: {exc}")
    for upload in report.aborted_multipart:
        try:
            objectstore.multipart_abort(storage, upload.key, upload_id=upload.upload_id)
        except Exception as exc:
            report.errors.append(f"could not abort upload {upload.upload_id} of {upload.key}: {exc}")
    return report
