"""Promotion policies: their shape, validation, loading and the evidence they leave; the refusals they
cause (failed gates, freeze windows) are `rules.gates_pass` and `rules.not_frozen`.

A model's policy (``PromotionPolicy``) adds to the core rules for entering Production:
metric gates on the version's recorded metrics, minimum approvals from members of named groups, and
freeze windows during which Production changes other than rollbacks are refused.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from models_app.choices import Decision
from models_app.compiled import CompiledQuery
from models_app.exceptions import InvalidInput
from models_app.models import Approval, PromotionPolicy, RegisteredModel, TransitionRequest, alias_validator

OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
MAX_GATES = 50
MAX_WINDOWS = 100
MAX_METRIC_NAME = 100
MAX_PROTECTED_ALIASES = 50


@dataclass(frozen=True)
class MetricGate:
    """``metric op value``: the version's recorded metric must satisfy it."""

    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def check(self, metrics: dict) -> str | None:
        """None when the gate passes, else a sentence naming the metric and what it needs."""
        actual = metrics.get(self.metric) if isinstance(metrics, dict) else None
        if isinstance(actual, bool) or not isinstance(actual, int | float) or not math.isfinite(actual):
            return f"{self.metric} is not recorded (needs {self.op} {self.value:g})"
        if not OPERATORS[self.op](actual, self.value):
            return f"{self.metric} is {actual:g} (needs {self.op} {self.value:g})"
        return None


@dataclass(frozen=True)
class FreezeWindow:
    """A half-open interval [start, end) during which Production changes are refused."""

    start: datetime
    end: datetime
    reason: str = ""

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        text = f"{self.start.isoformat()} to {self.end.isoformat()}"
        return f"{text} ({self.reason})" if self.reason else text


@dataclass(frozen=True)
class Policy:
    """A model's effective promotion policy (empty when none was set)."""

    required_approvals: int = 1
    metric_gates: tuple[MetricGate, ...] = ()
    group_approvals: dict[str, int] = field(default_factory=dict)
    freeze_windows: tuple[FreezeWindow, ...] = ()
    protected_aliases: tuple[str, ...] = ()
    retention: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready form: what the API shows and what policy ledger rows record."""
        return {
            "required_approvals": self.required_approvals,
            "metric_gates": [{"metric": g.metric, "op": g.op, "value": g.value} for g in self.metric_gates],
            "group_approvals": dict(sorted(self.group_approvals.items())),
            "freeze_windows": [
                {"start": w.start.isoformat(), "end": w.end.isoformat(), "reason": w.reason}
                for w in self.freeze_windows
            ],
            "protected_aliases": list(self.protected_aliases),
            "retention": dict(self.retention),
        }

    def describe(self) -> list[str]:
        """One human sentence per rule, for the model page and each request."""
        lines = [f"{self.required_approvals} approval(s) from reviewers other than the requester"]
        lines += [
            f"at least {n} approval(s) from {group}" for group, n in sorted(self.group_approvals.items())
        ]
        if self.metric_gates:
            lines.append("to enter Production: " + " and ".join(str(g) for g in self.metric_gates))
        lines += [f"Production frozen {w}" for w in self.freeze_windows]
        if self.protected_aliases:
            lines.append(
                "aliases moved only on approval: " + ", ".join(f"@{a}" for a in self.protected_aliases)
            )
        if self.retention:
            lines.append(
                f"files of Archived versions beyond the {self.retention['keep_archived']} newest are purged "
                f"after {self.retention['archived_for_days']} days"
            )
        return lines


# -- validation ---------------------------------------------------------------------------------------


def clean_metric_gates(value: object) -> list[dict]:
    """A list of ``{"metric", "op", "value"}``; errors name the offending item."""
    if not isinstance(value, list):
        raise InvalidInput("Must be a list of {metric, op, value} objects.", field="metric_gates")
    if len(value) > MAX_GATES:
        raise InvalidInput(f"At most {MAX_GATES} gates.", field="metric_gates")
    cleaned, seen = [], set()
    for i, item in enumerate(value):
        where = f"metric_gates[{i}]"
        if not isinstance(item, dict) or set(item) - {"metric", "op", "value"}:
            raise InvalidInput("Must be an object with metric, op and value.", field=where)
        metric, op, threshold = item.get("metric"), item.get("op"), item.get("value")
        if (
            not isinstance(metric, str)
            or not metric.strip()
            or len(metric) > MAX_METRIC_NAME
            or not metric.isprintable()
        ):
            raise InvalidInput(
                f"Must be a metric name of 1-{MAX_METRIC_NAME} printable characters.", field=f"{where}.metric"
            )
        if op not in OPERATORS:
            raise InvalidInput(f"Must be one of {', '.join(OPERATORS)}.", field=f"{where}.op")
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not math.isfinite(threshold)
        ):
            raise InvalidInput("Must be a finite number.", field=f"{where}.value")
        if (metric, op) in seen:
            raise InvalidInput(f"'{metric} {op}' is given twice.", field=where)
        seen.add((metric, op))
        cleaned.append({"metric": metric, "op": op, "value": threshold})
    return cleaned


def clean_group_approvals(value: object) -> dict[str, int]:
    """``{"Group name": minimum}``; every group must exist."""
    if not isinstance(value, dict):
        raise InvalidInput('Must be an object like {"Governance": 1}.', field="group_approvals")
    cleaned = {}
    for name, minimum in value.items():
        where = f"group_approvals.{name}"
        if not name or len(name) > 150 or not name.isprintable():
            raise InvalidInput("Must be a group name of 1-150 printable characters.", field="group_approvals")
        if isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= 10:
            raise InvalidInput("Must be a whole number from 1 to 10.", field=where)
        if not Group.objects.filter(name=name).exists():
            raise InvalidInput(f"There is no group named {name!r}.", field=where)
        cleaned[name] = minimum
    return dict(sorted(cleaned.items()))


def _parse_moment(value: object, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput("Must be an ISO 8601 date and time.", field=where) from None
    else:
        raise InvalidInput("Must be an ISO 8601 date and time.", field=where)
    if moment.tzinfo is None:
        raise InvalidInput("Must include a time zone (for example 2025-12-20T00:00:00Z).", field=where)
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            "This time with its UTC offset is outside the years 1-9999.", field=where
        ) from None
    return moment


def clean_freeze_windows(value: object) -> list[dict]:
    """A list of ``{"start", "end", "reason"}`` with start before end, both with a time zone."""
    if not isinstance(value, list):
        raise InvalidInput("Must be a list of {start, end, reason} objects.", field="freeze_windows")
    if len(value) > MAX_WINDOWS:
        raise InvalidInput(f"At most {MAX_WINDOWS} windows.", field="freeze_windows")
    cleaned = []
    for i, item in enumerate(value):
        where = f"freeze_windows[{i}]"
        if not isinstance(item, dict) or set(item) - {"start", "end", "reason"}:
            raise InvalidInput("Must be an object with start, end and an optional reason.", field=where)
        start = _parse_moment(item.get("start"), f"{where}.start")
        end = _parse_moment(item.get("end"), f"{where}.end")
        if end <= start:
            raise InvalidInput("Must be after start.", field=f"{where}.end")
        reason = item.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500 or not (reason.isprintable() or not reason):
            raise InvalidInput("Must be at most 500 printable characters.", field=f"{where}.reason")
        cleaned.append({"start": start.isoformat(), "end": end.isoformat(), "reason": reason.strip()})
    return sorted(cleaned, key=lambda w: w["start"])


def clean_protected_aliases(value: object) -> list[str]:
    """Alias names (without the ``@``) that move only by an approved request; sorted, no repeats."""
    if not isinstance(value, list):
        raise InvalidInput('Must be a list of alias names, e.g. ["champion"].', field="protected_aliases")
    if len(value) > MAX_PROTECTED_ALIASES:
        raise InvalidInput(f"At most {MAX_PROTECTED_ALIASES} aliases.", field="protected_aliases")
    cleaned = set()
    for i, name in enumerate(value):
        where = f"protected_aliases[{i}]"
        if not isinstance(name, str):
            raise InvalidInput("Must be an alias name.", field=where)
        try:
            alias_validator(name)
        except ValidationError as exc:
            raise InvalidInput(exc.messages[0], field=where) from None
        cleaned.add(name)
    return sorted(cleaned)


def clean_retention(value: object) -> dict[str, int]:
    """``{"keep_archived": N, "archived_for_days": D}`` (both whole numbers), or ``{}`` for no retention."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict) or set(value) != {"keep_archived", "archived_for_days"}:
        raise InvalidInput(
            'Must be {"keep_archived": N, "archived_for_days": D}, or {} for no retention.', field="retention"
        )
    for key, upper in (("keep_archived", 10_000), ("archived_for_days", 36_500)):
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= upper:
            raise InvalidInput(f"Must be a whole number from 0 to {upper}.", field=f"retention.{key}")
    return {"keep_archived": value["keep_archived"], "archived_for_days": value["archived_for_days"]}


# -- evaluation ---------------------------------------------------------------------------------------


def retention_candidates(
    retention: dict, archived: Iterable[tuple[int, datetime]], *, now: datetime
) -> list[int]:
    """The Archived versions whose files a retention policy purges, newest first.

    ``archived``: (number, archived at) of each Archived version that still has its files. The
    ``keep_archived`` newest (by number) keep theirs; of the others, those Archived for more than
    ``archived_for_days`` days are purged. No retention (``{}``) purges nothing. Whether each may be
    purged at all (aliases, requests, holds) is ``rules.purgeable``'s to say.
    """
    if not retention:
        return []
    ordered = sorted(archived, key=lambda item: item[0], reverse=True)
    cutoff = now - timedelta(days=retention["archived_for_days"])
    return [number for number, at in ordered[retention["keep_archived"] :] if at < cutoff]


def policy_from_record(registered_model: RegisteredModel, record: PromotionPolicy | None) -> Policy:
    """The effective policy of a model given its (possibly absent) policy row."""
    if record is None:
        return Policy(required_approvals=registered_model.required_approvals)
    return Policy(
        required_approvals=registered_model.required_approvals,
        metric_gates=tuple(MetricGate(g["metric"], g["op"], g["value"]) for g in record.metric_gates),
        group_approvals=dict(record.group_approvals),
        freeze_windows=tuple(
            FreezeWindow(
                datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]), w.get("reason", "")
            )
            for w in record.freeze_windows
        ),
        protected_aliases=tuple(record.protected_aliases),
        retention=dict(record.retention),
    )


def policy_for(registered_model: RegisteredModel) -> Policy:
    """The effective policy of a model, read fresh from the database."""
    found = _POLICY.run(model_id=registered_model.pk)
    return policy_from_record(registered_model, found[0] if found else None)


# Read by every promotion, alias move and approval (compiled once per process, models_app/compiled.py).
_POLICY = CompiledQuery(
    lambda model_id: PromotionPolicy.objects.filter(registered_model_id=model_id).order_by("pk")[:1],
    model_id=9_007_199_254_740_881,
)


def gate_evidence(policy: Policy, metrics: dict) -> dict:
    """What the gates saw: per gate its rule, the recorded value and whether it passed (for the ledger)."""
    evidence = []
    for gate in policy.metric_gates:
        actual = metrics.get(gate.metric) if isinstance(metrics, dict) else None
        evidence.append({"gate": str(gate), "value": actual, "passed": gate.check(metrics) is None})
    return {"gates": evidence} if evidence else {}


def missing_group_approvals(
    *, registered_model: RegisteredModel, transition_request: TransitionRequest
) -> dict:
    """``{group: approvals still needed}`` for the request's group minimums (empty when met).

    Only approvals count; the requester can never approve, and is excluded here as well.
    """
    policy = policy_for(registered_model)
    missing = {}
    for group, minimum in policy.group_approvals.items():
        have = (
            Approval.objects.filter(
                transition_request=transition_request, decision=Decision.APPROVE, reviewer__groups__name=group
            )
            .exclude(reviewer_id=transition_request.requested_by_id)
            .values("reviewer")
            .distinct()
            .count()
        )
        if have < minimum:
            missing[group] = minimum - have
    return missing


def reviewer_evidence(reviewer) -> dict:
    """The reviewer's groups at the moment of the decision, recorded on the approval's ledger row."""
    return {"groups": sorted(reviewer.groups.values_list("name", flat=True))}
