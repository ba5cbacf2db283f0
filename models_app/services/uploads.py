"""Direct-to-bucket uploads (S3 multipart): begin, complete with verification, abort, expire."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from models_app import rules
from models_app.choices import (
    UploadStatus,
    VersionStatus,
)
from models_app.exceptions import (
    ChecksumMismatch,
    Conflict,
    DirectUploadUnavailable,
    InvalidInput,
    TooLarge,
    UploadClosed,
    UploadIncomplete,
)
from models_app.metadata import clean_version_metadata
from models_app.models import (
    ArtifactFile,
    ModelVersion,
    RegisteredModel,
    UploadFile,
    UploadSession,
)
from models_app.pipeline import events
from models_app.services._shared import (
    checked_files,
    clean_comment,
    clean_idempotency_key,
    existing_for_key,
    lock_model,
    log,
    refresh_version,
    registration_record,
    resolve_parent,
    version_create_once,
)
from models_app.services.holds import object_holds_for_new_version
from models_app.storage import objectstore
from models_app.storage.artifacts import (
    artifact_storage,
    delete_quietly,
    new_storage_key,
    validate_sha256,
)


@dataclass(frozen=True)
class DeclaredFile:
    """A file the client will upload straight to the bucket: its label, exact size and SHA-256."""

    path: str
    size: int
    sha256: str
    content_type: str = "application/octet-stream"


def _check_declared_files(files: Sequence[DeclaredFile]) -> None:
    total = 0
    for i, declared in checked_files(files, path_field=lambda i: f"files[{i}].path", empty_field="files"):
        validate_sha256(declared.sha256, field=f"files[{i}].sha256")
        size = declared.size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput("Must be the file's size in bytes (0 or more).", field=f"files[{i}].size")
        if size > objectstore.MAX_OBJECT_SIZE:
            raise TooLarge(
                f"File {declared.path!r} is larger than the 5 TiB an object may hold.",
                field=f"files[{i}].size",
            )
        total += size
    if total > settings.REGISTRY_MAX_DIRECT_UPLOAD_BYTES:
        raise TooLarge(
            f"The files add up to {total} bytes, more than the configured limit of "
            f"{settings.REGISTRY_MAX_DIRECT_UPLOAD_BYTES} bytes.",
            field="files",
        )


def _direct_storage():
    storage = artifact_storage()
    if not objectstore.is_s3(storage):
        raise DirectUploadUnavailable()
    return storage


def version_upload_begin(
    *,
    registered_model: RegisteredModel,
    actor,
    files: Sequence[DeclaredFile],
    metadata: dict | None = None,
    idempotency_key: str | None = None,
) -> UploadSession:
    """Number a new ``pending`` version and open one S3 multipart upload per declared file.

    The client then PUTs the parts to presigned URLs and calls ``version_upload_complete``. Keys are
    generated here; the client's paths stay labels. With an ``idempotency_key`` a retry returns the
    session the first attempt opened.
    """
    rules.refuse(rules.may_publish(actor, registered_model=registered_model))
    storage = _direct_storage()
    idempotency_key = clean_idempotency_key(idempotency_key)
    existing = existing_for_key(registered_model, actor, idempotency_key)
    if existing is not None:
        session = UploadSession.objects.filter(version=existing).first()
        if session is None:
            raise Conflict(
                f"Idempotency-Key was already used for v{existing.version}, registered in one request.",
                field="Idempotency-Key",
            )
        return session
    meta = clean_version_metadata(metadata)
    if meta.pop("files"):
        raise InvalidInput(
            "Declare each file's size and SHA-256 in the 'files' list.", field="metadata.files"
        )
    _check_declared_files(files)
    parent = resolve_parent(registered_model, meta.pop("parent_version"))
    preferred = settings.REGISTRY_UPLOAD_PART_SIZE
    part_size = max(objectstore.plan_part_size(f.size, preferred) for f in files)

    opened: list[tuple[DeclaredFile, str, str]] = []
    try:
        for declared in files:
            key = new_storage_key(registered_model.pk)
            upload_id = objectstore.multipart_create(storage, key, content_type=declared.content_type)
            opened.append((declared, key, upload_id))
        session = _upload_session_insert(
            registered_model=registered_model,
            created_by=actor,
            meta=meta,
            parent=parent,
            part_size=part_size,
            opened=opened,
            idempotency_key=idempotency_key,
        )
    except BaseException:
        _abort_quietly(storage, [(key, upload_id) for _, key, upload_id in opened])
        raise
    if session.files.filter(upload_id__in=[u for _, _, u in opened]).count() != len(opened):
        # A concurrent retry with the same key won; our uploads are surplus.
        _abort_quietly(storage, [(key, upload_id) for _, key, upload_id in opened])
    return session


def _upload_session_insert(
    *, registered_model, created_by, meta: dict, parent, part_size: int, opened, idempotency_key
) -> UploadSession:
    def open_session(model, version, now) -> UploadSession:
        session = UploadSession.objects.create(
            version=version,
            created_by=created_by,
            part_size=part_size,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(hours=settings.REGISTRY_UPLOAD_EXPIRY_HOURS),
        )
        UploadFile.objects.bulk_create(
            [
                UploadFile(
                    session=session,
                    path=declared.path,
                    size=declared.size,
                    sha256=declared.sha256.lower(),
                    content_type=(declared.content_type or "application/octet-stream")[:255],
                    storage_key=key,
                    upload_id=upload_id,
                    part_count=objectstore.part_count(declared.size, part_size),
                )
                for declared, key, upload_id in opened
            ]
        )
        return session

    return version_create_once(
        registered_model,
        status=VersionStatus.PENDING,
        meta=meta,
        parent=parent,
        created_by=created_by,
        idempotency_key=idempotency_key,
        then=open_session,
        found=lambda existing: UploadSession.objects.get(version=existing),
    )


def _abort_quietly(storage, uploads) -> None:
    for key, upload_id in uploads:
        try:
            objectstore.multipart_abort(storage, key, upload_id=upload_id)
        except Exception:  # gc_artifacts aborts what is left once the grace period is over
            log.warning("could not abort multipart upload %s of %s", upload_id, key, exc_info=True)


def _claim_session(session: UploadSession, actor) -> tuple[UploadSession, bool]:
    """Move an open session to ``completing`` so only one completion runs; (session, already_done)."""
    with transaction.atomic():
        session = UploadSession.objects.select_for_update().select_related("version").get(pk=session.pk)
        rules.refuse(rules.may_manage_uploads(actor, session=session))
        if session.status == UploadStatus.COMPLETED:
            return session, True
        if session.status == UploadStatus.COMPLETING:
            raise UploadClosed(f"Upload {session.pk} is being completed by another request; retry shortly.")
        if session.status != UploadStatus.OPEN:
            raise UploadClosed(
                f"Upload {session.pk} is {session.status}; v{session.version.version} is "
                f"{session.version.status}. Start a new upload."
                + (f" ({session.error})" if session.error else "")
            )
        if session.expires_at <= timezone.now():
            raise UploadClosed(
                f"Upload {session.pk} expired at {session.expires_at.isoformat()}; start a new one."
            )
        session.status = UploadStatus.COMPLETING
        session.updated_at = timezone.now()
        session.save(update_fields=["status", "updated_at"])
    return session, False


def _reopen(session: UploadSession) -> None:
    UploadSession.objects.filter(pk=session.pk, status=UploadStatus.COMPLETING).update(
        status=UploadStatus.OPEN, updated_at=timezone.now()
    )


def _assemble(storage, upload: UploadFile) -> None:
    """Complete one file's multipart upload after checking every part is there."""
    parts = objectstore.multipart_parts(storage, upload.storage_key, upload_id=upload.upload_id)
    if parts is None:
        # Completed by an earlier attempt that failed later on, or aborted: the object tells which.
        if objectstore.object_size(storage, upload.storage_key) is None:
            raise _UploadRejected(upload, f"The upload of file {upload.path!r} no longer exists.", "files")
        return
    have = {p["PartNumber"]: p for p in parts}
    missing = [n for n in range(1, upload.part_count + 1) if n not in have]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
        raise UploadIncomplete(
            f"File {upload.path!r}: part(s) {shown} of {upload.part_count} have not been uploaded yet.",
            field=f"files.{upload.path}",
        )
    wanted = [have[n] for n in range(1, upload.part_count + 1)]
    uploaded = sum(int(p["Size"]) for p in wanted)
    if uploaded != upload.size:
        raise _UploadRejected(
            upload,
            f"File {upload.path!r} was declared as {upload.size} bytes but its parts hold {uploaded}.",
            f"files.{upload.path}.size",
        )
    try:
        objectstore.multipart_complete(storage, upload.storage_key, upload_id=upload.upload_id, parts=wanted)
    except objectstore.MultipartRefused as exc:
        raise _UploadRejected(
            upload,
            f"The bucket refused to assemble file {upload.path!r} ({exc.code}).",
            f"files.{upload.path}",
        ) from exc


class _UploadRejected(Exception):
    def __init__(self, upload: UploadFile, message: str, field: str):
        super().__init__(message)
        self.upload, self.message, self.field = upload, message, field


def _verify_stored(storage, upload: UploadFile) -> None:
    """Check the assembled object's size and full-object SHA-256 by streaming it from the bucket.

    S3's own multipart checksums are composites of the parts' checksums, so they cannot be compared
    with the SHA-256 of the whole file that clients declare and later verify.
    """
    size, digest = objectstore.hash_object(storage, upload.storage_key)
    if size != upload.size:
        raise _UploadRejected(
            upload,
            f"File {upload.path!r} is {size} bytes in the bucket, but {upload.size} were declared.",
            f"files.{upload.path}.size",
        )
    if digest != upload.sha256:
        raise _UploadRejected(
            upload,
            f"File {upload.path!r} has SHA-256 {digest}, but {upload.sha256} was declared; "
            "the upload was refused and its bytes removed.",
            f"files.{upload.path}.sha256",
        )


def version_upload_complete(*, session: UploadSession, actor) -> ModelVersion:
    """Finish a direct upload: assemble each file, verify its size and SHA-256, then mark the version
    ``ready`` with its files in one transaction.

    Missing parts answer UploadIncomplete and leave the session open; a size or checksum mismatch
    marks the version ``failed`` (it keeps its number), removes the uploaded bytes and raises
    ChecksumMismatch naming the file. An unreachable bucket leaves the session open for a retry.
    Completing an already completed session returns its version.
    """
    storage = _direct_storage()
    session, done = _claim_session(session, actor)
    if done:
        return session.version
    uploads = list(session.files.all())
    try:
        for upload in uploads:
            _assemble(storage, upload)
        for upload in uploads:
            _verify_stored(storage, upload)
    except _UploadRejected as exc:
        _fail_session(
            session,
            reason=exc.message,
            storage=storage,
            status=UploadStatus.FAILED,
            code=ChecksumMismatch.code,
        )
        raise ChecksumMismatch(exc.message, field=exc.field) from None
    except BaseException:
        _reopen(session)
        raise
    return _version_make_ready(session=session, actor=actor, uploads=uploads)


def _version_make_ready(*, session: UploadSession, actor, uploads: list[UploadFile]) -> ModelVersion:
    now = timezone.now()
    with transaction.atomic():
        model = lock_model(session.version.registered_model_id)
        version = refresh_version(session.version, model)
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != UploadStatus.COMPLETING or version.status != VersionStatus.PENDING:
            raise UploadClosed(f"Upload {session.pk} was {locked.status} while it was being completed.")
        version.status = VersionStatus.READY
        version.save(update_fields=["status"])
        locked.status = UploadStatus.COMPLETED
        locked.updated_at = now
        locked.save(update_fields=["status", "updated_at"])
        registration_record(model, version, uploads, actor=actor, now=now, direct_upload=True)
        # A model under a legal hold holds its new versions' objects too (S3 Object Lock).
        transaction.on_commit(partial(object_holds_for_new_version, version.pk))
    return version


def _fail_session(session: UploadSession, *, reason: str, storage, status: UploadStatus, code: str) -> bool:
    """Mark the session and its version failed first (so nothing can ever reference the bytes), then
    remove the objects and abort the multipart uploads; what cannot be removed now, gc_artifacts
    removes later. Returns False (and touches nothing) if the session was closed meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        model = lock_model(session.version.registered_model_id)
        version = refresh_version(session.version, model)
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
        if locked.status not in (UploadStatus.OPEN, UploadStatus.COMPLETING):
            return False
        locked.status, locked.error, locked.updated_at = status, reason[:2000], now
        locked.save(update_fields=["status", "error", "updated_at"])
        if version.status == VersionStatus.PENDING:
            version.status = VersionStatus.FAILED
            version.status_reason = reason
            version.save(update_fields=["status", "status_reason"])
    uploads = list(session.files.all())
    events.version_failed_emit(
        registered_model=version.registered_model,
        actor=session.created_by,
        reason=reason,
        code=code,
        files=[u.path for u in uploads],
    )
    if storage is not None:
        referenced = set(
            ArtifactFile.objects.filter(storage_key__in=[u.storage_key for u in uploads]).values_list(
                "storage_key", flat=True
            )
        )
        _abort_quietly(storage, [(u.storage_key, u.upload_id) for u in uploads])
        delete_quietly(storage, [u.storage_key for u in uploads if u.storage_key not in referenced])
    return True


def version_upload_abort(*, session: UploadSession, actor, reason: str = "") -> UploadSession:
    """Give up a direct upload: the version becomes ``failed`` and the uploaded parts are removed."""
    storage = _direct_storage()
    reason = clean_comment(reason, field="reason") or "Aborted by the client."
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().select_related("version").get(pk=session.pk)
        rules.refuse(rules.may_manage_uploads(actor, session=locked))
        if locked.status not in (UploadStatus.OPEN, UploadStatus.COMPLETING):
            raise UploadClosed(f"Upload {locked.pk} is already {locked.status}.")
        if locked.status == UploadStatus.COMPLETING:
            raise UploadClosed(f"Upload {locked.pk} is being completed; it can no longer be aborted.")
    _fail_session(locked, reason=reason, storage=storage, status=UploadStatus.ABORTED, code="upload_aborted")
    locked.refresh_from_db()
    return locked


def upload_session_expire_stale(*, now=None) -> list[UploadSession]:
    """Abort every upload left open past its expiry, or stuck completing for as long (a crashed
    completion), and remove its bytes. Run by ``cleanup_uploads`` and ``gc_artifacts``."""
    now = now or timezone.now()
    stale = list(
        UploadSession.objects.select_related("version")
        .filter(
            Q(status=UploadStatus.OPEN, expires_at__lte=now)
            | Q(
                status=UploadStatus.COMPLETING,
                updated_at__lte=now - timedelta(hours=settings.REGISTRY_UPLOAD_EXPIRY_HOURS),
            )
        )
        .order_by("created_at")
    )
    if not stale:
        return []
    storage = artifact_storage()
    # Without S3 the parts' bucket is no longer configured: record the outcome, leave the bytes.
    storage = storage if objectstore.is_s3(storage) else None
    expired = []
    for session in stale:
        reason = f"The upload was abandoned; it expired at {session.expires_at.isoformat()}."
        if _fail_session(
            session, reason=reason, storage=storage, status=UploadStatus.ABORTED, code="upload_expired"
        ):
            expired.append(session)
    return expired
