"""Version registration in one request (files streamed to storage, hashed once) and card edits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from models_app import rules
from models_app.choices import (
    LedgerKind,
    Stage,
    VersionStatus,
)
from models_app.exceptions import (
    ChecksumMismatch,
    InvalidInput,
    RegistryError,
    StorageUnavailable,
)
from models_app.metadata import clean_tags, clean_version_metadata
from models_app.models import (
    ArtifactFile,
    ModelVersion,
    RegisteredModel,
)
from models_app.ops import metrics
from models_app.pipeline import events
from models_app.services._shared import (
    UNSET,
    Unset,
    clean_comment,
    clean_idempotency_key,
    existing_for_key,
    lock_model,
    log,
    record,
    refresh_version,
    resolve_parent,
    version_row_create,
)
from models_app.storage.artifacts import (
    IncomingFile,
    StoredFile,
    artifact_storage,
    delete_quietly,
    new_storage_key,
    store_stream,
    validate_artifact_path,
)


def _check_files(files: Sequence[IncomingFile], expected: dict[str, str]) -> None:
    if not files:
        raise InvalidInput("A version needs at least one file.", field="file")
    seen: set[str] = set()
    for incoming in files:
        validate_artifact_path(incoming.path, field="file")
        if incoming.path in seen:
            raise InvalidInput(f"File path {incoming.path!r} is given twice.", field="file")
        seen.add(incoming.path)
    missing = sorted(set(expected) - seen)
    if missing:
        raise InvalidInput(
            f"Checksums were given for files that were not uploaded: {', '.join(missing)}.", field="files"
        )


def version_register(
    *,
    registered_model: RegisteredModel,
    actor,
    files: Sequence[IncomingFile],
    metadata: dict | None = None,
    idempotency_key: str | None = None,
    on_insert: Callable[[ModelVersion], object] | None = None,
) -> tuple[ModelVersion, bool]:
    """Store the files and register a ready version; return (version, created).

    Files are streamed into storage (hashed on the way) before any row is written, so a failed
    upload, a checksum mismatch or a refused request leaves no version and no stored bytes. With an
    ``idempotency_key`` a retry returns the version the first attempt created (``created`` False).
    ``on_insert(version)`` runs in the version's transaction, to write rows that belong to it.
    """
    rules.refuse(rules.may_publish(actor, registered_model=registered_model))
    idempotency_key = clean_idempotency_key(idempotency_key)
    existing = existing_for_key(registered_model, actor, idempotency_key)
    if existing is not None:
        return existing, False
    meta = clean_version_metadata(metadata)
    expected = meta.pop("files")
    _check_files(files, expected)
    parent = resolve_parent(registered_model, meta.pop("parent_version"))

    storage = artifact_storage()
    stored: list[StoredFile] = []
    try:
        for incoming in files:
            key = new_storage_key(registered_model.pk)
            # Recorded before the save so a failure half-way still gets its partial object removed.
            stored.append(StoredFile(incoming.path, key, 0, "", incoming.content_type))
            try:
                size, digest = store_stream(storage=storage, key=key, stream=incoming.stream)
            except RegistryError:
                raise
            except Exception as exc:
                log.warning("storing %s for %s failed: %s", incoming.path, registered_model.name, exc)
                raise StorageUnavailable(
                    f"Storing file {incoming.path!r} failed ({exc.__class__.__name__}); nothing was registered.",
                    field="file",
                ) from exc
            stored[-1] = StoredFile(incoming.path, key, size, digest, incoming.content_type or "")
            want = expected.get(incoming.path) or (incoming.expected_sha256 or "").lower() or None
            if want and want != digest:
                raise ChecksumMismatch(
                    f"File {incoming.path!r} has SHA-256 {digest}, but {want} was declared; nothing was registered.",
                    field=f"files.{incoming.path}.sha256",
                )
        version, created = _version_insert(
            registered_model=registered_model,
            created_by=actor,
            meta=meta,
            parent=parent,
            stored=stored,
            idempotency_key=idempotency_key,
            on_insert=on_insert,
        )
    except BaseException as exc:
        delete_quietly(storage, [s.storage_key for s in stored])
        if isinstance(exc, Exception):
            events.version_failed_emit(
                registered_model=registered_model,
                actor=actor,
                reason=str(exc),
                code=getattr(exc, "code", exc.__class__.__name__),
                files=[s.path for s in stored],
            )
        raise
    if not created:
        # A concurrent retry with the same key won; our copy of the bytes is surplus.
        delete_quietly(storage, [s.storage_key for s in stored])
    else:
        transaction.on_commit(partial(metrics.record_registration, sum(s.size for s in stored)))
    return version, created


def _version_insert(
    *, registered_model, created_by, meta: dict, parent, stored: list[StoredFile], idempotency_key, on_insert
) -> tuple[ModelVersion, bool]:
    now = timezone.now()
    try:
        with transaction.atomic():
            model = lock_model(registered_model.pk)
            existing = existing_for_key(model, created_by, idempotency_key)
            if existing is not None:
                return existing, False
            version = version_row_create(
                model,
                status=VersionStatus.READY,
                meta=meta,
                parent=parent,
                created_by=created_by,
                now=now,
                idempotency_key=idempotency_key,
            )
            ArtifactFile.objects.bulk_create(
                [
                    ArtifactFile(
                        version=version,
                        path=s.path,
                        size=s.size,
                        sha256=s.sha256,
                        content_type=(s.content_type or "application/octet-stream")[:255],
                        storage_key=s.storage_key,
                        created_at=now,
                    )
                    for s in stored
                ]
            )
            if on_insert is not None:
                on_insert(version)
            record(
                registered_model=model,
                version=version,
                kind=LedgerKind.REGISTERED,
                to_stage=Stage.NONE,
                actor=created_by,
                details={"files": len(stored), "bytes": sum(s.size for s in stored)},
                now=now,
            )
            return version, True
    except IntegrityError:
        existing = existing_for_key(registered_model, created_by, idempotency_key)
        if existing is not None:
            return existing, False
        raise


def version_update(
    *, version: ModelVersion, actor, description: str | Unset = UNSET, tags: dict | Unset = UNSET
) -> ModelVersion:
    """Edit a version's description and tags; everything else about a version is immutable.

    The edit and its ``version_edited`` ledger row (naming the fields that changed) are one transaction.
    """
    rules.refuse(rules.may_edit_version(actor, version=version))
    changes = {}
    if description is not UNSET:
        changes["description"] = clean_comment(description, field="description")
    if tags is not UNSET:
        changes["tags"] = clean_tags(tags)
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        edited = sorted(k for k, v in changes.items() if getattr(version, k) != v)
        if not edited:
            return version
        for key in edited:
            setattr(version, key, changes[key])
        version.save(update_fields=edited)
        record(
            registered_model=model,
            version=version,
            kind=LedgerKind.VERSION_EDITED,
            actor=actor,
            details={"edited": edited},
            comment=f"Card edited: {', '.join(edited)}.",
        )
    return version
