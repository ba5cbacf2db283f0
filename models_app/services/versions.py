"""Version registration in one request (files streamed to storage, hashed once) and card edits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from django.db import transaction

from models_app import rules
from models_app.choices import VersionStatus
from models_app.exceptions import (
    ChecksumMismatch,
    InvalidInput,
    RegistryError,
    StorageUnavailable,
)
from models_app.metadata import clean_version_metadata
from models_app.models import (
    ModelVersion,
    RegisteredModel,
)
from models_app.ops import metrics
from models_app.pipeline import events
from models_app.services._shared import (
    UNSET,
    Unset,
    card_apply,
    card_edit_record,
    checked_files,
    clean_card,
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
from models_app.storage.artifacts import (
    IncomingFile,
    StoredFile,
    artifact_storage,
    delete_quietly,
    new_storage_key,
    store_stream,
)


def _check_files(files: Sequence[IncomingFile], expected: dict[str, str]) -> None:
    seen = {f.path for _, f in checked_files(files, path_field=lambda i: "file", empty_field="file")}
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
    def with_files(model, version, now) -> tuple[ModelVersion, bool]:
        if on_insert is not None:
            on_insert(version)
        registration_record(model, version, stored, actor=created_by, now=now)
        # A model under a legal hold holds its new versions' objects too (S3 Object Lock).
        transaction.on_commit(partial(object_holds_for_new_version, version.pk))
        return version, True

    return version_create_once(
        registered_model,
        status=VersionStatus.READY,
        meta=meta,
        parent=parent,
        created_by=created_by,
        idempotency_key=idempotency_key,
        then=with_files,
        found=lambda existing: (existing, False),
    )


def version_update(
    *, version: ModelVersion, actor, description: str | Unset = UNSET, tags: dict | Unset = UNSET
) -> ModelVersion:
    """Edit a version's description and tags; everything else about a version is immutable.

    The edit and its ``version_edited`` ledger row (naming the fields that changed) are one transaction.
    """
    rules.refuse(rules.may_edit_version(actor, version=version))
    changes = clean_card(description=description, tags=tags)
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        edited = card_apply(version, changes)
        if not edited:
            return version
        version.save(update_fields=edited)
        card_edit_record(registered_model=model, version=version, actor=actor, edited=edited)
    return version
