"""Promotion policies: Governance's metric gates, group approvals, freeze windows and required approvals."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from models_app import policies, roles
from models_app.choices import (
    LedgerKind,
)
from models_app.models import (
    PromotionPolicy,
    RegisteredModel,
)
from models_app.services._shared import UNSET, _clean_comment, _lock_model, _record, _require, _Unset
from models_app.services.models import _clean_required_approvals


def promotion_policy_set(
    *,
    registered_model: RegisteredModel,
    actor,
    metric_gates: list | _Unset = UNSET,
    group_approvals: dict | _Unset = UNSET,
    freeze_windows: list | _Unset = UNSET,
    required_approvals: int | _Unset = UNSET,
    comment: str = "",
) -> PromotionPolicy:
    """Governance sets a model's promotion policy; each change is a ``policy_changed`` ledger row.

    Arguments left out keep their value. The row records the whole policy before and after.
    """
    _require(roles.can_govern_model(actor), "Only Governance can change a model's promotion policy.")
    changes: dict[str, Any] = {}
    if metric_gates is not UNSET:
        changes["metric_gates"] = policies.clean_metric_gates(metric_gates)
    if group_approvals is not UNSET:
        changes["group_approvals"] = policies.clean_group_approvals(group_approvals)
    if freeze_windows is not UNSET:
        changes["freeze_windows"] = policies.clean_freeze_windows(freeze_windows)
    if required_approvals is not UNSET:
        required_approvals = _clean_required_approvals(required_approvals)
    comment = _clean_comment(comment)
    with transaction.atomic():
        model = _lock_model(registered_model.pk)
        record = PromotionPolicy.objects.select_for_update().filter(registered_model=model).first()
        before = policies.policy_from_record(model, record).as_dict()
        if record is None:
            record = PromotionPolicy(registered_model=model, updated_by=actor)
        for key, value in changes.items():
            setattr(record, key, value)
        if required_approvals is not UNSET:
            model.required_approvals = required_approvals
        after = policies.policy_from_record(model, record).as_dict()
        if after == before:
            return record
        now = timezone.now()
        if required_approvals is not UNSET:
            model.save(update_fields=["required_approvals", "updated_at"])
        record.updated_by, record.updated_at = actor, now
        record.save()
        changed = sorted(k for k in after if after[k] != before[k])
        _record(
            registered_model=model,
            kind=LedgerKind.POLICY_CHANGED,
            actor=actor,
            details={"changed": changed, "from": before, "to": after},
            comment=comment or f"Promotion policy changed: {', '.join(changed)}.",
            now=now,
        )
    return record
