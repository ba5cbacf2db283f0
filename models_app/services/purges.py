"""Purges: Governance removes one version's files now; retention removes those its policy no longer keeps.

A purge keeps the version row, its metadata and its files' paths, sizes and SHA-256, and sets the
status to ``purged`` in one transaction with its ledger row (who or what purged it, why, the bytes
freed). The stored bytes are deleted only after that commit: a crash in between leaves bytes that no
usable version refers to, which ``gc_artifacts`` removes, and never a usable version without its bytes.

Retention runs under a system account, ``registry-retention`` (an inactive user that cannot sign in,
created on first use), so its ledger rows name what purged the files the way a person's rows name them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from models_app import policies, rules
from models_app.choices import LedgerKind, Stage, VersionStatus
from models_app.exceptions import RegistryError
from models_app.models import (
    LedgerEntry,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
)
from models_app.selectors.holds import version_purge_facts
from models_app.services._shared import clean_comment, lock_model, record, refresh_version
from models_app.storage import objectlock
from models_app.storage.artifacts import artifact_storage

log = logging.getLogger("models_app.retention")

RETENTION_USERNAME = "registry-retention"


@dataclass
class PurgeResult:
    """One purge: the version, the bytes its files held, and what could not be deleted (filled after
    commit; what is left there is ``gc_artifacts``' to remove)."""

    version: ModelVersion
    bytes_freed: int
    files: int
    errors: list[str] = field(default_factory=list)


@dataclass
class RetentionReport:
    """What one retention run did (or, with ``dry_run``, would do), model by model."""

    dry_run: bool
    purged: list[PurgeResult] = field(default_factory=list)
    would_purge: list[PurgeResult] = field(default_factory=list)
    kept: list[tuple[ModelVersion, RegistryError]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(p.bytes_freed for p in (self.would_purge if self.dry_run else self.purged))


def retention_actor():
    """The system account retention purges as (created on first use; inactive, no usable password)."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=RETENTION_USERNAME, defaults={"is_active": False, "first_name": "Retention"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _delete_stored(result: PurgeResult, keys: list[str]) -> None:
    storage = artifact_storage()
    for key in keys:
        try:
            objectlock.purge_object(storage, key)
        except Exception as exc:  # every key is tried; gc_artifacts removes what is left
            result.errors.append(f"could not delete {key}: {exc}")
            log.warning("purge of %s left %s in storage: %s", result.version, key, exc)


def _purge_locked(
    version: ModelVersion, model: RegisteredModel, *, actor, reason: str, details: dict, now: datetime
) -> PurgeResult:
    """Mark a version purged and record it; its bytes go once the caller's transaction commits."""
    files = list(version.files.order_by("path"))
    result = PurgeResult(version=version, bytes_freed=sum(f.size for f in files), files=len(files))
    version.status = VersionStatus.PURGED
    version.status_reason = f"Files purged on {now:%Y-%m-%d %H:%M} UTC by {actor.get_username()}: {reason}"
    version.save(update_fields=["status", "status_reason"])
    record(
        registered_model=model,
        version=version,
        kind=LedgerKind.PURGED,
        actor=actor,
        comment=reason,
        details={
            "bytes_freed": result.bytes_freed,
            "files": result.files,
            "stage": str(version.stage),
            **details,
        },
        now=now,
    )
    transaction.on_commit(partial(_delete_stored, result, [f.storage_key for f in files]))
    return result


def version_purge(*, version: ModelVersion, actor, reason: str) -> PurgeResult:
    """Governance purges one version's files now (``rules.purgeable``: never the Production or a Staging
    version, an aliased one, one with a pending request, or a held one)."""
    reason = clean_comment(reason, field="reason", required=True)
    rules.refuse(rules.may_purge(actor))
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        rules.refuse(rules.purgeable(version, **version_purge_facts(version=version)))
        result = _purge_locked(
            version, model, actor=actor, reason=reason, details={"by": "governance"}, now=timezone.now()
        )
    return result


def _archived_at(versions: list[ModelVersion]) -> dict[int, datetime]:
    """When each (Archived) version last entered Archived, from its ledger rows."""
    rows = (
        LedgerEntry.objects.filter(version__in=versions, to_stage=Stage.ARCHIVED)
        .values("version_id")
        .annotate(at=Max("created_at"))
    )
    found = {row["version_id"]: row["at"] for row in rows}
    return {v.pk: found.get(v.pk, v.created_at) for v in versions}


def _retention_for_model(
    model_pk: int, *, actor, now: datetime, dry_run: bool, report: RetentionReport
) -> None:
    with transaction.atomic():
        model = lock_model(model_pk)
        policy = policies.policy_for(model)
        if not policy.retention:
            return
        archived = list(
            ModelVersion.objects.select_for_update().filter(
                registered_model=model, stage=Stage.ARCHIVED, status=VersionStatus.READY
            )
        )
        since = _archived_at(archived)
        by_number = {v.version: v for v in archived}
        numbers = policies.retention_candidates(
            policy.retention, [(v.version, since[v.pk]) for v in archived], now=now
        )
        for number in numbers:
            version = by_number[number]
            version.registered_model = model
            refusal = rules.purgeable(version, **version_purge_facts(version=version))
            if refusal is not None:
                report.kept.append((version, refusal))
                continue
            if dry_run:
                sizes = [f.size for f in version.files.all()]
                report.would_purge.append(PurgeResult(version, sum(sizes), len(sizes)))
                continue
            details = {
                "by": "retention",
                "retention": dict(policy.retention),
                "archived_at": since[version.pk].isoformat(),
            }
            reason = (
                f"Retention: beyond the {policy.retention['keep_archived']} newest Archived versions and "
                f"Archived for more than {policy.retention['archived_for_days']} days."
            )
            if callable(actor):
                actor = actor()
            report.purged.append(
                _purge_locked(version, model, actor=actor, reason=reason, details=details, now=now)
            )


def retention_apply(*, actor=None, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """Apply every model's retention policy: purge the files of Archived versions beyond the
    ``keep_archived`` newest that have been Archived for more than ``archived_for_days`` days.

    Versions the purge rules protect are reported as kept, with the reason. Each model is decided in
    its own transaction under its row lock, so a failure leaves the other models' results standing.
    Without ``actor`` the purges are the system account's (``registry-retention``); a person running it
    must be Governance.
    """
    if actor is not None:
        rules.refuse(rules.may_purge(actor))
    now = now or timezone.now()
    report = RetentionReport(dry_run=dry_run)
    models_with_policy = (
        PromotionPolicy.objects.select_related("registered_model")
        .order_by("registered_model__name")
        .values_list("registered_model_id", "registered_model__name", "retention")
    )
    for model_pk, name, retention in models_with_policy:
        if not retention:
            continue
        try:
            # The system account is made on the first purge it makes, not by a run that purges nothing.
            _retention_for_model(
                model_pk, actor=actor or retention_actor, now=now, dry_run=dry_run, report=report
            )
        except Exception as exc:  # the other models still get their turn; the run reports the failure
            log.exception("retention of %s failed", name)
            report.errors.append(f"{name}: {exc}")
    return report
