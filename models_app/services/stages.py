"""Direct stage moves and rollbacks."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from models_app import policies, roles
from models_app.choices import (
    LedgerKind,
    Stage,
)
from models_app.exceptions import (
    ApprovalRequired,
    NeverInProduction,
    RollbackRequired,
    VersionNotFound,
    VersionNotReady,
)
from models_app.lifecycle import REQUIRES_APPROVAL, REVIEWER_TARGETS, ROLLBACK_MOVES, check_transition
from models_app.models import (
    ModelVersion,
    RegisteredModel,
    StageTransition,
)
from models_app.services._shared import (
    _clean_comment,
    _clean_stage,
    _lock_model,
    _promote,
    _refresh_version,
    _require,
    _set_stage,
)


def version_transition(*, version: ModelVersion, to: Stage | str, actor, comment: str = "") -> ModelVersion:
    """Move a version directly (no approval) where the table allows it.

    Production is refused with ApprovalRequired (it needs a request), archived -> production with
    RollbackRequired. Moves to Archived are the reviewers'; the others belong to the team's publishers.
    """
    target = _clean_stage(to)
    comment = _clean_comment(comment)
    with transaction.atomic():
        model = _lock_model(version.registered_model_id)
        version = _refresh_version(version)
        current = Stage(version.stage)
        if not version.is_ready:
            raise VersionNotReady(
                f"v{version.version} is {version.status}; only ready versions change stage."
            )
        if (current, target) in ROLLBACK_MOVES:
            raise RollbackRequired()
        if target in REQUIRES_APPROVAL and current == Stage.STAGING:
            raise ApprovalRequired()
        check_transition(current, target)
        if target in REVIEWER_TARGETS:
            _require(roles.can_rollback(actor), "Only Reviewers can archive versions.")
        else:
            _require(
                roles.can_publish(actor, model),
                f"Only Publishers of team '{model.team.name}' can move versions of '{model.name}' to {target}.",
            )
        if Stage.PRODUCTION in (current, target):
            policies.check_freeze(registered_model=model, now=timezone.now())
        _set_stage(
            version, target, kind=LedgerKind.DIRECT, actor=actor, registered_model=model, comment=comment
        )
    return version


def version_rollback(
    *, registered_model: RegisteredModel, version_number: int, actor, reason: str
) -> ModelVersion:
    """Return an archived version that was in Production before straight to Production.

    The current Production version is archived in the same transaction (an ``automatic`` row).
    """
    reason = _clean_comment(reason, field="reason", required=True)
    _require(roles.can_rollback(actor), "Only Reviewers can roll back Production.")
    with transaction.atomic():
        model = _lock_model(registered_model.pk)
        version = (
            ModelVersion.objects.select_for_update()
            .filter(registered_model=model, version=version_number)
            .first()
        )
        if version is None:
            raise VersionNotFound(
                f"Version {version_number} of '{model.name}' does not exist.", field="version"
            )
        if not version.is_ready:
            raise VersionNotReady(
                f"v{version.version} is {version.status}; only ready versions change stage."
            )
        was_production = StageTransition.objects.filter(version=version, to_stage=Stage.PRODUCTION).exists()
        if not was_production:
            raise NeverInProduction(
                f"v{version.version} has never been in Production, so it cannot be rolled back to; "
                "request a promotion instead.",
                field="version",
            )
        check_transition(Stage(version.stage), Stage.PRODUCTION, rollback=True)
        _promote(
            version,
            kind=LedgerKind.ROLLBACK,
            actor=actor,
            registered_model=model,
            comment=reason,
            now=timezone.now(),
        )
    return version
