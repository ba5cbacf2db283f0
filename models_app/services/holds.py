"""Legal holds: Governance holds one version or a whole model, and releases the hold; each is a ledger row.

The database is where a hold is decided: while one is active nothing purges the versions it covers.
Where the bucket has S3 Object Lock, the hold is mirrored onto the stored objects (``PutObjectLegalHold``)
so that the bucket refuses to delete them too. The store is changed *before* the transaction that
records the hold (or its release), so a hold is never recorded without its object holds: if the store
fails, nothing is recorded and the caller gets StorageUnavailable. After the commit the covered objects
are checked once more, which settles a hold and a release (or a registration) that raced each other.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from models_app import rules
from models_app.choices import LedgerKind
from models_app.exceptions import RegistryError
from models_app.models import ArtifactFile, LegalHold, ModelVersion, RegisteredModel
from models_app.services._shared import clean_comment, lock_model, record, refresh_version
from models_app.storage import objectlock
from models_app.storage.artifacts import artifact_storage

log = logging.getLogger("models_app.holds")


def _target(model: RegisteredModel, version: ModelVersion | None) -> str:
    return f"v{version.version} of '{model.name}'" if version is not None else f"'{model.name}'"


def _keys(model: RegisteredModel, version: ModelVersion | None) -> set[str]:
    files = ArtifactFile.objects.filter(version__registered_model_id=model.pk)
    if version is not None:
        files = files.filter(version_id=version.pk)
    return set(files.values_list("storage_key", flat=True))


def _held_keys(keys: set[str], *, excluding: LegalHold | None = None) -> set[str]:
    """Which of ``keys`` an active hold (other than ``excluding``) covers."""
    if not keys:
        return set()
    holds = LegalHold.objects.active()
    if excluding is not None:
        holds = holds.exclude(pk=excluding.pk)
    covered = Q(version__holds__in=holds.filter(version__isnull=False)) | Q(
        version__registered_model__holds__in=holds.filter(version__isnull=True)
    )
    return set(
        ArtifactFile.objects.filter(covered, storage_key__in=keys).values_list("storage_key", flat=True)
    )


def _set_quietly(storage, keys, *, on: bool) -> None:
    """Best effort, for undoing and settling: failures are logged (the hold in the database decides)."""
    if not keys:
        return
    try:
        objectlock.set_legal_hold(storage, sorted(keys), on=on)
    except RegistryError:
        log.warning("could not turn the S3 legal hold %s on %d object(s)", "on" if on else "off", len(keys))


def _place(*, model: RegisteredModel, version: ModelVersion | None, actor, reason: str) -> LegalHold:
    reason = clean_comment(reason, field="reason", required=True)
    rules.refuse(rules.may_hold(actor))
    storage = artifact_storage()
    target = _target(model, version)
    # Refused now rather than after the store was changed for nothing; decided again under the lock.
    active = LegalHold.objects.active().filter(registered_model=model, version=version).first()
    rules.refuse(rules.hold_placeable(target=target, version=version, active_hold=active))
    keys = _keys(model, version)
    locked = objectlock.object_lock_enabled(storage)
    if locked:
        objectlock.set_legal_hold(storage, sorted(keys), on=True)
    try:
        with transaction.atomic():
            model = lock_model(model.pk)
            if version is not None:
                version = refresh_version(version, model)
            active = LegalHold.objects.active().filter(registered_model=model, version=version).first()
            rules.refuse(rules.hold_placeable(target=target, version=version, active_hold=active))
            now = timezone.now()
            hold = LegalHold.objects.create(
                registered_model=model,
                version=version,
                reason=reason,
                placed_by=actor,
                placed_at=now,
                object_lock=locked,
            )
            record(
                registered_model=model,
                version=version,
                kind=LedgerKind.HOLD_PLACED,
                actor=actor,
                comment=reason,
                details={
                    "hold_id": hold.pk,
                    "scope": hold.scope,
                    "object_lock": locked,
                    "objects": len(keys),
                },
                now=now,
            )
    except BaseException:
        if locked:
            _set_quietly(storage, keys - _held_keys(keys), on=False)
        raise
    if locked and version is None:
        # Versions registered while the hold was being placed: their objects are held too.
        _set_quietly(storage, _keys(model, None) - keys, on=True)
    return hold


def version_hold(*, version: ModelVersion, actor, reason: str) -> LegalHold:
    """Governance places a legal hold on one version: its files are never purged while it lasts."""
    return _place(model=version.registered_model, version=version, actor=actor, reason=reason)


def model_hold(*, registered_model: RegisteredModel, actor, reason: str) -> LegalHold:
    """Governance places a legal hold on a whole model: every version, including versions registered
    while the hold lasts, keeps its files."""
    return _place(model=registered_model, version=None, actor=actor, reason=reason)


def hold_release(
    *,
    actor,
    reason: str,
    version: ModelVersion | None = None,
    registered_model: RegisteredModel | None = None,
) -> LegalHold:
    """Lift the active legal hold of a version (``version``) or of a whole model (``registered_model``).

    The objects' S3 legal holds are lifted only where no other active hold still covers them (a version's
    own hold and its model's hold are independent).
    """
    reason = clean_comment(reason, field="reason", required=True)
    rules.refuse(rules.may_hold(actor))
    model = version.registered_model if version is not None else registered_model
    storage = artifact_storage()
    target = _target(model, version)

    def facts():
        own = LegalHold.objects.active().filter(registered_model=model, version=version).first()
        of_model = LegalHold.objects.active().filter(registered_model=model, version__isnull=True).first()
        return own, of_model

    own, of_model = facts()
    rules.refuse(rules.hold_releasable(target=target, active_hold=own, model_hold=of_model))
    keys = _keys(model, version)
    lifted = keys - _held_keys(keys, excluding=own)
    objectlock.set_legal_hold(storage, sorted(lifted), on=False)
    try:
        with transaction.atomic():
            model = lock_model(model.pk)
            if version is not None:
                version = refresh_version(version, model)
            own, of_model = facts()
            rules.refuse(rules.hold_releasable(target=target, active_hold=own, model_hold=of_model))
            now = timezone.now()
            own.released_by, own.released_at, own.release_reason = actor, now, reason
            own.save(update_fields=["released_by", "released_at", "release_reason"])
            record(
                registered_model=model,
                version=version,
                kind=LedgerKind.HOLD_RELEASED,
                actor=actor,
                comment=reason,
                details={"hold_id": own.pk, "scope": own.scope, "placed_at": own.placed_at.isoformat()},
                now=now,
            )
    except BaseException:
        _set_quietly(storage, lifted, on=True)
        raise
    # A hold placed meanwhile on some of these objects keeps them held.
    if still := _held_keys(lifted):
        _set_quietly(storage, still, on=True)
    return own


def object_holds_for_new_version(version_pk: int) -> None:
    """After a registration commits: a version of a model under a legal hold gets its objects held too."""
    storage = artifact_storage()
    try:
        if not objectlock.object_lock_enabled(storage):
            return  # nothing to hold in the store (always so on the filesystem): no query per registration
    except RegistryError:
        pass  # the bucket could not say; the hold check below decides, and _set_quietly logs a failure
    version = ModelVersion.objects.select_related("registered_model").filter(pk=version_pk).first()
    if version is None or not LegalHold.objects.covering(version).exists():
        return
    # Never fails the registration that committed already; the hold in the database protects the files.
    _set_quietly(storage, _keys(version.registered_model, version), on=True)
