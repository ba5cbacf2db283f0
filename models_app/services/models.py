"""Registered models: create one for a team, edit its card and its governance settings."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from models_app import rules
from models_app.choices import LedgerKind
from models_app.exceptions import (
    ModelAlreadyExists,
)
from models_app.metadata import clean_tags
from models_app.models import (
    RegisteredModel,
    name_validator,
)
from models_app.names import canonical_name
from models_app.services._shared import (
    UNSET,
    Unset,
    card_apply,
    card_edit_record,
    clean_card,
    clean_comment,
    clean_validated,
    lock_model,
    record,
)
from models_app.services.policies import clean_required_approvals, required_approvals_write


def registered_model_create(
    *,
    name: str,
    team: Group,
    actor,
    description: str = "",
    tags: dict | None = None,
    required_approvals: int = 1,
) -> RegisteredModel:
    """Create a model owned by ``team``; the creator must publish for that team.

    The model and its ``model_created`` ledger row (and so its ``model.created`` event) are written in
    one transaction.
    """
    name = clean_validated(name, name_validator, field="name")
    required_approvals = clean_required_approvals(required_approvals)
    tags = clean_tags(tags)
    description = clean_comment(description, field="description")
    rules.refuse(rules.may_create_model(actor, team=team))
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
                created_by=actor,
            )
            required_approvals_write(model, required_approvals)
            record(
                registered_model=model,
                kind=LedgerKind.MODEL_CREATED,
                actor=actor,
                details={"team": team.name, "required_approvals": required_approvals},
            )
    except IntegrityError:
        raise ModelAlreadyExists(f"A model named '{name}' already exists.", field="name") from None
    return model


def registered_model_update(
    *,
    registered_model: RegisteredModel,
    actor,
    description: str | Unset = UNSET,
    tags: dict | Unset = UNSET,
    required_approvals: int | Unset = UNSET,
    team: Group | Unset = UNSET,
) -> RegisteredModel:
    """Change a model's card (team publishers) or its governance settings (Governance).

    A governance change is a ``model_changed`` ledger row naming each field's old and new value; a card
    edit is a ``model_edited`` row naming the fields that changed (the text itself is on the model).
    """
    changes = clean_card(description=description, tags=tags)
    if changes:
        rules.refuse(rules.may_edit_model(actor, registered_model=registered_model))
    policy: dict[str, Any] = {}
    if required_approvals is not UNSET:
        policy["required_approvals"] = clean_required_approvals(required_approvals)
    if team is not UNSET:
        policy["team"] = team
    if policy:
        rules.refuse(rules.may_govern(actor))
    with transaction.atomic():
        model = lock_model(registered_model.pk)
        before = {"required_approvals": model.required_approvals, "team": model.team.name}
        edited = card_apply(model, changes)
        if "team" in policy:
            model.team = policy["team"]
        model.save()
        if "required_approvals" in policy:
            required_approvals_write(model, policy["required_approvals"])
        after = {"required_approvals": model.required_approvals, "team": model.team.name}
        diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        if diff:
            record(
                registered_model=model,
                kind=LedgerKind.MODEL_CHANGED,
                actor=actor,
                details=diff,
                comment="; ".join(f"{k}: {v['from']} -> {v['to']}" for k, v in diff.items()),
            )
        if edited:
            card_edit_record(registered_model=model, actor=actor, edited=edited)
    return model
