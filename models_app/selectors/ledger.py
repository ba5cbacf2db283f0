"""Reads of the ledger, and what held each stage and alias at a moment (from ledger rows alone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from models_app.choices import STAGE_CHANGE_KINDS, LedgerKind, Stage
from models_app.exceptions import InvalidInput
from models_app.models import (
    LedgerEntry,
    ModelVersion,
    RegisteredModel,
)


def ledger_list() -> QuerySet[LedgerEntry]:
    """Ledger rows, newest first, with model, version and request joined."""
    return LedgerEntry.objects.select_related("registered_model", "version", "transition_request").order_by(
        "-id"
    )


def ledger_list_for_version(*, version: ModelVersion) -> QuerySet[LedgerEntry]:
    return ledger_list().filter(version=version)


def ledger_production_changes(*, limit: int = 5) -> QuerySet[LedgerEntry]:
    """The newest ledger rows that put a version into Production."""
    return ledger_list().filter(to_stage=Stage.PRODUCTION)[:limit]


@dataclass
class Snapshot:
    """Which versions held each stage and alias at a moment, and how Production got there.

    Built from ledger rows alone: ``production_entry`` is the row that put the Production version in
    place (an approved promotion or a rollback, whose comment is the reason); ``production_request`` the
    row that asked for it (requester, comment, and the metric-gate evidence in ``details``);
    ``production_approvals`` the approval rows (reviewer, comment, their groups in ``details``);
    ``policy`` the promotion policy in force (as recorded by the last policy change), if any.
    """

    at: datetime
    stages: dict[str, list[int]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    production_version: int | None = None
    production_entry: LedgerEntry | None = None
    production_request: LedgerEntry | None = None
    production_approvals: list[LedgerEntry] = field(default_factory=list)
    policy: dict | None = None

    @property
    def approved_by(self) -> list[str]:
        return [row.actor_username for row in self.production_approvals]


def registered_model_history_at(*, registered_model: RegisteredModel, at: datetime) -> Snapshot:
    """Replay the ledger up to ``at``: the answer comes from the ledger alone."""
    if timezone.is_aware(at):
        # PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows; UTC compares the same everywhere.
        try:
            at = at.astimezone(UTC)
        except OverflowError:
            raise InvalidInput(
                "This time with its UTC offset is outside the years 1-9999.", field="at"
            ) from None
    rows = (
        LedgerEntry.objects.filter(registered_model=registered_model, created_at__lte=at)
        .select_related("registered_model", "version", "transition_request")
        .order_by("id")
    )
    stage_of: dict[int, str] = {}
    entered: dict[int, LedgerEntry] = {}
    aliases: dict[str, int] = {}
    approvals_by_request: dict[int, list[LedgerEntry]] = {}
    request_rows: dict[int, LedgerEntry] = {}
    policy: dict | None = None
    for row in rows:
        number = row.version.version if row.version else None
        if row.kind == LedgerKind.REGISTERED and number is not None:
            stage_of[number] = Stage.NONE
        elif row.kind in STAGE_CHANGE_KINDS and number is not None:
            stage_of[number] = row.to_stage
            entered[number] = row
        elif row.kind == LedgerKind.ALIAS_SET and number is not None:
            aliases[row.alias] = number
        elif row.kind == LedgerKind.ALIAS_REMOVED:
            aliases.pop(row.alias, None)
        elif row.kind == LedgerKind.REQUESTED and row.transition_request_id:
            request_rows[row.transition_request_id] = row
        elif row.kind == LedgerKind.APPROVAL and row.transition_request_id:
            approvals_by_request.setdefault(row.transition_request_id, []).append(row)
        elif row.kind == LedgerKind.POLICY_CHANGED:
            policy = dict(row.details.get("to") or {})
        elif row.kind == LedgerKind.MODEL_CHANGED and policy is not None:
            change = row.details.get("required_approvals")
            if isinstance(change, dict) and "to" in change:
                policy["required_approvals"] = change["to"]
    snap = Snapshot(at=at, aliases=dict(sorted(aliases.items())), policy=policy)
    for stage in (Stage.PRODUCTION, Stage.STAGING, Stage.ARCHIVED, Stage.NONE):
        snap.stages[stage] = sorted(n for n, s in stage_of.items() if s == stage)
    if snap.stages[Stage.PRODUCTION]:
        snap.production_version = snap.stages[Stage.PRODUCTION][0]
        entry = entered.get(snap.production_version)
        snap.production_entry = entry
        if entry and entry.kind == LedgerKind.APPROVED and entry.transition_request_id:
            snap.production_request = request_rows.get(entry.transition_request_id)
            snap.production_approvals = approvals_by_request.get(entry.transition_request_id, [])
    return snap


def _parse_moment(text: str) -> datetime | None:
    """An ISO 8601 time (UTC when it has no offset), or None when it is not one."""
    try:
        moment = parse_datetime(text.strip())
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    if moment is not None:
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # the offset carries it outside the years 1-9999: not a usable time
            return None
    return moment


@dataclass
class HistoryQuery:
    """A point-in-time question as a page asks it (``at`` as typed) and its answer, or why there is none."""

    at_text: str
    error: str = ""
    snapshot: Snapshot | None = None


def registered_model_history_at_text(
    *, registered_model: RegisteredModel, at_text: str | None
) -> HistoryQuery:
    """``registered_model_history_at`` for a moment given as text (now when empty), as the UI and the
    admin ask it."""
    at_text = at_text or timezone.now().isoformat().replace("+00:00", "Z")
    moment = _parse_moment(at_text)
    if moment is None:
        return HistoryQuery(at_text, error="Give the moment as an ISO 8601 time, e.g. 2026-06-01T12:00:00Z.")
    return HistoryQuery(
        at_text, snapshot=registered_model_history_at(registered_model=registered_model, at=moment)
    )
