"""Registered models: create one for a team, edit its card and its governance settings."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from models_app import roles
from models_app.choices import (
    EventType,
    LedgerKind,
)
from models_app.exceptions import (
    InvalidInput,
    ModelAlreadyExists,
)
from models_app.metadata import clean_tags
from models_app.models import (
    RegisteredModel,
    name_validator,
)
from models_app.names import canonical_name
from models_app.pipeline import events
from models_app.services._shared import UNSET, _clean_comment, _lock_model, _record, _require, _Unset


def _clean_model_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput("Must be a string.", field="name")
    try:
        name_validator(name)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], field="name") from None
    return name


def _clean_required_approvals(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        raise InvalidInput("Must be a whole number from 1 to 10.", field="required_approvals")
    return value


def registered_model_create(
    *,
    name: str,
    team: Group,
    created_by,
    description: str = "",
    tags: dict | None = None,
    required_approvals: int = 1,
) -> RegisteredModel:
    """Create a model owned by ``team``; the creator must publish for that team."""
    name = _clean_model_name(name)
    required_approvals = _clean_required_approvals(required_approvals)
    tags = clean_tags(tags)
    description = _clean_comment(description, field="description")
    _require(
        roles.can_create_model(created_by, team),
        f"Only Publishers who are members of team '{team.name}' can create its models.",
    )
    canonical = canonical_name(name)
    if RegisteredModel.objects.filter(name=canonical).exists():
        raise ModelAlreadyExists(f"A model named '{name}' already exists.", field="name")
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                name=canonical,
                description=description,
                tags=tags,
                team=team,
                required_approvals=required_approvals,
                created_by=created_by,
            )
            events.event_emit(
                type=EventType.MODEL_CREATED,
                actor=created_by,
                registered_model=model,
                payload={"team": team.name},
            )
    except IntegrityError:
        raise ModelAlreadyExists(f"A model named '{name}' already exists.", field="name") from None
    return model


def registered_model_update(
    *,
    registered_model: RegisteredModel,
    actor,
    description: str | _Unset = UNSET,
    tags: dict | _Unset = UNSET,
    required_approvals: int | _Unset = UNSET,
    team: Group | _Unset = UNSET,
) -> RegisteredModel:
    """Change a model's card (team publishers) or its governance settings (Governance).

    A change to the team or the required approvals is a policy change and gets a ledger row.
    """
    changes: dict[str, Any] = {}
    if description is not UNSET:
        changes["description"] = _clean_comment(description, field="description")
    if tags is not UNSET:
        changes["tags"] = clean_tags(tags)
    if changes:
        _require(
            roles.can_edit_model(actor, registered_model),
            "Only the model's team publishers or Governance can edit its description and tags.",
        )
    policy: dict[str, Any] = {}
    if required_approvals is not UNSET:
        policy["required_approvals"] = _clean_required_approvals(required_approvals)
    if team is not UNSET:
        policy["team"] = team
    if policy:
        _require(
            roles.can_govern_model(actor), "Only Governance can change a model's team or required approvals."
        )
    with transaction.atomic():
        model = _lock_model(registered_model.pk)
        before = {"required_approvals": model.required_approvals, "team": model.team.name}
        for key, value in {**changes, **policy}.items():
            setattr(model, key, value)
        model.save()
        if policy:
            after = {"required_approvals": model.required_approvals, "team": model.team.name}
            diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
            if diff:
                _record(
                    registered_model=model,
                    kind=LedgerKind.MODEL_CHANGED,
                    actor=actor,
                    details=diff,
                    comment="; ".join(f"{k}: {v['from']} -> {v['to']}" for k, v in diff.items()),
                )
    return model
