"""Signed checkpoints of the ledger, kept outside the database, so that a rewound ledger is noticed.

The hash chain shows any row altered, inserted or removed in the middle, but not the newest rows
removed together with a rewound head: what is left is a shorter, intact chain. A *checkpoint* records
how many rows the ledger had and the hash of the last one, at a time, signed with HMAC-SHA256 under
``REGISTRY_AUDIT_ANCHOR_KEY``, and is written to the artifact storage under ``audit-anchors/``; on a
bucket with S3 Object Lock it carries a retention date, so nobody (database access or not) can remove
or replace it before then. Verification compares the chain with the newest checkpoint: a database that
holds fewer rows than it covered, or other rows at its position, is ``rewound``.

A new checkpoint is written only when the ledger still extends the newest one (the rows it covered are
there, and every row after them links on intact); otherwise writing one would bless the rewind. After
a restore from a backup the ledger is legitimately behind its checkpoints: ``anchor_audit --rebase``
writes a checkpoint of the restored ledger (after a full walk) that names the checkpoint it supersedes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from models_app import ledger
from models_app.exceptions import AnchorKeyMissing, AnchorRefused, StorageUnavailable
from models_app.models import LedgerEntry, LedgerHead
from models_app.storage import objectlock
from models_app.storage.artifacts import artifact_storage

log = logging.getLogger("models_app.audit")

PREFIX = "audit-anchors/"
FORMAT = 1
_SIGNED = ("format", "count", "head_hash", "head_id", "created_at", "previous", "rebased_from")


def _key() -> bytes | None:
    key = settings.REGISTRY_AUDIT_ANCHOR_KEY
    return key.encode("utf-8") if key else None


def _canonical(payload: dict) -> bytes:
    return json.dumps({k: payload.get(k) for k in _SIGNED}, sort_keys=True, separators=(",", ":")).encode()


def sign(payload: dict, key: bytes) -> str:
    """The HMAC-SHA256 (hex) of a checkpoint's signed fields."""
    return hmac.new(key, _canonical(payload), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """One stored checkpoint, as read back; ``valid`` is whether its signature verifies."""

    name: str
    count: int
    head_hash: str
    head_id: int | None
    created_at: datetime | None
    previous: str | None
    rebased_from: dict | None
    valid: bool

    def describe(self) -> str:
        when = self.created_at.isoformat() if self.created_at else "an unknown time"
        return f"the checkpoint of {when} ({self.count} rows)"


def checkpoint_name(created_at: datetime, count: int) -> str:
    """Server-made names that sort by time: ``audit-anchors/20260101T120000123456Z-42.json``."""
    return f"{PREFIX}{created_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{count}.json"


def _parse(name: str, raw: bytes, key: bytes | None) -> Checkpoint:
    try:
        data = json.loads(raw)
        count, head_hash = int(data["count"]), str(data["head_hash"])
        created_at = datetime.fromisoformat(data["created_at"])
        signature = str(data["signature"])
    except (ValueError, KeyError, TypeError):
        return Checkpoint(name, 0, "", None, None, None, None, False)
    valid = (
        key is not None and data.get("format") == FORMAT and hmac.compare_digest(sign(data, key), signature)
    )
    return Checkpoint(
        name,
        count,
        head_hash,
        data.get("head_id"),
        created_at,
        data.get("previous"),
        data.get("rebased_from"),
        valid,
    )


def newest_checkpoint(storage=None) -> Checkpoint | None:
    """The newest checkpoint in the store (by its name's time), or None when there is none."""
    storage = storage or artifact_storage()
    names = [n for n in objectlock.list_keys(storage, PREFIX) if n.endswith(".json")]
    if not names:
        return None
    name = max(names)
    return _parse(name, objectlock.read_bytes(storage, name), _key())


@dataclass(frozen=True)
class AnchorCheck:
    """How the chain compares with the newest checkpoint.

    ``status``: ``consistent``, ``rewound``, ``invalid`` (its signature does not verify), ``none`` (no
    checkpoint yet), ``unconfigured`` (no REGISTRY_AUDIT_ANCHOR_KEY) or ``unavailable`` (the store
    could not be read).
    """

    status: str
    detail: str
    checkpoint: Checkpoint | None = None

    def as_dict(self) -> dict:
        cp = self.checkpoint
        return {
            "status": self.status,
            "detail": self.detail,
            "checkpoint": cp.name if cp else None,
            "count": cp.count if cp else None,
            "created_at": cp.created_at.isoformat() if cp and cp.created_at else None,
        }


def checkpoint_get(name: str, storage=None) -> Checkpoint | None:
    """The checkpoint stored under ``name`` (``audit-anchors/...json``), or None when there is none."""
    storage = storage or artifact_storage()
    if not name.startswith(PREFIX) or name not in set(objectlock.list_keys(storage, PREFIX)):
        return None
    return _parse(name, objectlock.read_bytes(storage, name), _key())


def verify_ledger(*, batch_size: int = 2000, checkpoint_name: str | None = None) -> ledger.ChainReport:
    """Walk the chain (``ledger.verify_chain``) and compare it with the newest checkpoint (or the one
    named ``checkpoint_name``: after a restore, the last one written before the backup).

    What the verify command, the API and the admin page answer. A ledger that holds fewer rows than the
    checkpoint covered, or another row at its position, is reported ``rewound`` with the checkpoint's
    count and time; a checkpoint that does not verify is ``anchor_invalid``.
    """
    key = _key()
    if key is None:
        report = ledger.verify_chain(batch_size=batch_size)
        return replace(report, anchor=AnchorCheck("unconfigured", AnchorKeyMissing.default_message))
    try:
        checkpoint = checkpoint_get(checkpoint_name) if checkpoint_name else newest_checkpoint()
    except StorageUnavailable as exc:
        report = ledger.verify_chain(batch_size=batch_size)
        return replace(report, anchor=AnchorCheck("unavailable", str(exc)))
    if checkpoint is None:
        report = ledger.verify_chain(batch_size=batch_size)
        detail = (
            f"There is no checkpoint {checkpoint_name}."
            if checkpoint_name
            else "No checkpoint has been written yet (python manage.py anchor_audit)."
        )
        return replace(report, anchor=AnchorCheck("none", detail))
    report = ledger.verify_chain(batch_size=batch_size, mark=checkpoint.count or None)
    if not checkpoint.valid:
        detail = (
            f"{checkpoint.name} does not carry a valid signature under REGISTRY_AUDIT_ANCHOR_KEY: it was not "
            "written by anchor_audit with this key (forged or damaged, or the key was changed)."
        )
        check = AnchorCheck("invalid", detail, checkpoint)
        if report.ok:
            return replace(report, ok=False, kind="anchor_invalid", problem=detail, anchor=check)
        return replace(report, anchor=check)
    problem = _rewound(report, checkpoint)
    if problem is None:
        detail = f"The ledger extends {checkpoint.describe()}."
        return replace(report, anchor=AnchorCheck("consistent", detail, checkpoint))
    check = AnchorCheck("rewound", problem, checkpoint)
    if report.ok:
        bad = report.mark_id if report.checked >= checkpoint.count else None
        return replace(report, ok=False, kind="rewound", problem=problem, first_bad_id=bad, anchor=check)
    return replace(report, anchor=check)


def _rewound(report: ledger.ChainReport, checkpoint: Checkpoint) -> str | None:
    if report.checked < checkpoint.count:
        return (
            f"the ledger holds {report.checked} row(s), fewer than the {checkpoint.count} that "
            f"{checkpoint.describe()} covered: its newest rows were removed and the head rewound."
        )
    if checkpoint.count and report.mark_hash != checkpoint.head_hash:
        return (
            f"row {report.mark_id} at position {checkpoint.count} is not the row {checkpoint.describe()} "
            "covered: rows were removed or rewritten and the chain rebuilt after them."
        )
    return None


@dataclass(frozen=True)
class AnchorResult:
    """What ``anchor_write`` did: the checkpoint written (or ``written`` False when the ledger had not
    changed since the newest one), and whether it is under S3 Object Lock retention."""

    name: str
    count: int
    head_hash: str
    written: bool
    locked: bool = False
    rebased: bool = False


def anchor_write(*, rebase: bool = False, now: datetime | None = None) -> AnchorResult:
    """Write a signed checkpoint of the ledger as it is now (``python manage.py anchor_audit``).

    Refused (AnchorRefused, nothing written) when the ledger no longer extends the newest checkpoint,
    or that checkpoint does not verify; ``rebase`` (after a restore) writes one anyway once a full walk
    of the chain finds it intact, naming the checkpoint it supersedes. Nothing is written when the
    ledger has not grown since the newest checkpoint.
    """
    key = _key()
    if key is None:
        raise AnchorKeyMissing()
    storage = artifact_storage()
    previous = newest_checkpoint(storage)
    rebased_from = None
    with ledger.snapshot():
        if previous is not None and not rebase:
            if not previous.valid:
                raise AnchorRefused(
                    f"The newest checkpoint {previous.name} does not verify under REGISTRY_AUDIT_ANCHOR_KEY; "
                    "nothing was written. Check the ledger with verify_audit, then anchor_audit --rebase."
                )
            extension = ledger.chain_extends(count=previous.count, head_hash=previous.head_hash)
            if not extension.ok:
                raise AnchorRefused(
                    f"The ledger does not extend {previous.describe()}: {extension.problem}. Nothing was "
                    "written; verify_audit reports the rewind. After a restore from a backup, use --rebase."
                )
            if extension.count == previous.count and extension.head_hash == previous.head_hash:
                return AnchorResult(previous.name, previous.count, previous.head_hash, written=False)
            count, head_hash, head_id = extension.count, extension.head_hash, extension.head_id
        else:
            report = ledger.verify_chain()
            if not report.ok:
                raise AnchorRefused(
                    f"The ledger's chain is broken ({report.kind}): {report.problem} Nothing was written."
                )
            head = LedgerHead.objects.filter(pk=1).first()
            count = report.checked
            head_hash = head.last_hash if head is not None else ledger.GENESIS_HASH
            head_id = LedgerEntry.objects.order_by("-id").values_list("id", flat=True).first()
            if previous is not None:
                rebased_from = {
                    "name": previous.name,
                    "count": previous.count,
                    "head_hash": previous.head_hash,
                    "created_at": previous.created_at.isoformat() if previous.created_at else None,
                }
    created_at = now or timezone.now()
    payload = {
        "format": FORMAT,
        "count": count,
        "head_hash": head_hash,
        "head_id": head_id,
        "created_at": created_at.isoformat(),
        "previous": previous.name if previous is not None else None,
        "rebased_from": rebased_from,
    }
    payload["signature"] = sign(payload, key)
    name = checkpoint_name(created_at, count)
    retain_until = created_at + timedelta(days=settings.REGISTRY_AUDIT_ANCHOR_RETENTION_DAYS)
    locked = objectlock.write_once(
        storage,
        name,
        json.dumps(payload, sort_keys=True, indent=1).encode(),
        retain_until=retain_until,
        mode=settings.REGISTRY_AUDIT_ANCHOR_LOCK_MODE,
    )
    log.info("ledger checkpoint %s: %s rows, head %s, object lock %s", name, count, head_hash, locked)
    return AnchorResult(name, count, head_hash, written=True, locked=locked, rebased=rebased_from is not None)
