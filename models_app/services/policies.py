"""Promotion policies: Governance's metric gates, group approvals, freeze windows and required approvals."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from models_app import policies, rules
from models_app.choices import LedgerKind
from models_app.exceptions import InvalidInput
from models_app.models import PromotionPolicy, RegisteredModel
from models_app.services._shared import UNSET, Unset, clean_comment, lock_model, record


def clean_required_approvals(value: object) -> int:
    """How many distinct reviewers must approve a promotion: a whole number from 1 to 10."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        raise InvalidInput("Must be a whole number from 1 to 10.", field="required_approvals")
    return value


def required_approvals_write(model: RegisteredModel, value: int) -> None:
    """The one place that stores a model's required approvals (the caller holds the model's lock,
    checked the actor and records the change)."""
    if model.required_approvals != value:
        model.required_approvals = value
        model.save(update_fields=["required_approvals", "updated_at"])


def promotion_policy_set(
    *,
    registered_model: RegisteredModel,
    actor,
    metric_gates: list | Unset = UNSET,
    group_approvals: dict | Unset = UNSET,
    freeze_windows: list | Unset = UNSET,
    protected_aliases: list | Unset = UNSET,
    retention: dict | Unset = UNSET,
    required_approvals: int | Unset = UNSET,
    comment: str = "",
) -> PromotionPolicy:
    """Governance sets a model's promotion policy; each change is a ``policy_changed`` ledger row.

    Arguments left out keep their value. The row records the whole policy before and after.
    """
    rules.refuse(rules.may_govern(actor))
    changes: dict[str, Any] = {}
    if metric_gates is not UNSET:
        changes["metric_gates"] = policies.clean_metric_gates(metric_gates)
    if group_approvals is not UNSET:
        changes["group_approvals"] = policies.clean_group_approvals(group_approvals)
    if freeze_windows is not UNSET:
        changes["freeze_windows"] = policies.clean_freeze_windows(freeze_windows)
    if protected_aliases is not UNSET:
        changes["protected_aliases"] = policies.clean_protected_aliases(protected_aliases)
    if retention is not UNSET:
        changes["retention"] = policies.clean_retention(retention)
    if required_approvals is not UNSET:
        required_approvals = clean_required_approvals(required_approvals)
    comment = clean_comment(comment)
    with transaction.atomic():
        model = lock_model(registered_model.pk)
        row = PromotionPolicy.objects.select_for_update().filter(registered_model=model).first()
        before = policies.policy_from_record(model, row).as_dict()
        if row is None:
            row = PromotionPolicy(registered_model=model, updated_by=actor)
        for key, value in changes.items():
            setattr(row, key, value)
        after = policies.policy_from_record(model, row).as_dict()
        if required_approvals is not UNSET:
            after["required_approvals"] = required_approvals
        if after == before:
            return row
        now = timezone.now()
        if required_approvals is not UNSET:
            required_approvals_write(model, required_approvals)
        row.updated_by, row.updated_at = actor, now
        row.save()
        changed = sorted(k for k in after if after[k] != before[k])
        record(
            registered_model=model,
            kind=LedgerKind.POLICY_CHANGED,
            actor=actor,
            details={"changed": changed, "from": before, "to": after},
            comment=comment or f"Promotion policy changed: {', '.join(changed)}.",
            now=now,
        )
    return row
