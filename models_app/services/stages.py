"""Direct stage moves and rollbacks."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from models_app import policies, rules
from models_app.choices import LedgerKind, Stage
from models_app.exceptions import VersionNotFound
from models_app.models import LedgerEntry, ModelVersion, RegisteredModel
from models_app.services._shared import (
    clean_comment,
    clean_stage,
    lock_model,
    promote,
    refresh_version,
    set_stage,
)


def version_transition(*, version: ModelVersion, to: Stage | str, actor, comment: str = "") -> ModelVersion:
    """Move a version directly (no approval) where the table allows it (``rules.may_move``).

    Production is refused with ApprovalRequired (it needs a request), archived -> production with
    RollbackRequired. Moves to Archived are the reviewers'; the others belong to the team's publishers.
    """
    target = clean_stage(to)
    comment = clean_comment(comment)
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        rules.refuse(rules.may_move(actor, version=version, target=target))
        if Stage.PRODUCTION in (Stage(version.stage), target):
            rules.refuse(
                rules.not_frozen(policies.policy_for(model), registered_model=model, now=timezone.now())
            )
        set_stage(
            version, target, kind=LedgerKind.DIRECT, actor=actor, registered_model=model, comment=comment
        )
    return version


def version_rollback(
    *, registered_model: RegisteredModel, version_number: int, actor, reason: str
) -> ModelVersion:
    """Return an archived version that was in Production before straight to Production.

    The current Production version is archived in the same transaction (an ``automatic`` row).
    Freeze windows do not apply: a rollback is how a bad release is undone.
    """
    reason = clean_comment(reason, field="reason", required=True)
    rules.refuse(rules.may_roll_back(actor))
    with transaction.atomic():
        model = lock_model(registered_model.pk)
        version = (
            ModelVersion.objects.select_for_update()
            .filter(registered_model=model, version=version_number)
            .first()
        )
        if version is None:
            raise VersionNotFound(
                f"Version {version_number} of '{model.name}' does not exist.", field="version"
            )
        version.registered_model = model
        ever = LedgerEntry.objects.filter(version=version, to_stage=Stage.PRODUCTION).exists()
        rules.refuse(rules.may_roll_back(actor, version=version, ever_in_production=ever))
        promote(
            version,
            kind=LedgerKind.ROLLBACK,
            actor=actor,
            registered_model=model,
            comment=reason,
            now=timezone.now(),
        )
    return version


def version_transition_replacing(
    *, version: ModelVersion, to: Stage | str, actor, comment: str = ""
) -> ModelVersion:
    """Move a version and archive every other version in the target stage, all or nothing (the MLflow
    protocol's ``archive_existing_versions``).

    Each archive is an ordinary direct move, so it needs a Reviewer, and Production is never the target:
    nothing enters Production without an approved request (``rules.promotion_needs_request``). A version
    already in the target stage stays where it is; only the others are archived.
    """
    target = clean_stage(to)
    if target == Stage.PRODUCTION:
        rules.refuse(rules.promotion_needs_request(version=version))
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        others = ModelVersion.objects.filter(registered_model=model, stage=target).exclude(pk=version.pk)
        for other in others.order_by("version"):
            version_transition(
                version=other,
                to=Stage.ARCHIVED,
                actor=actor,
                comment=comment or f"Archived: v{version.version} replaces it in {target.label}.",
            )
        if Stage(version.stage) != target:
            version = version_transition(version=version, to=target, actor=actor, comment=comment)
    return version
