"""Who may do what. Services enforce these; the UI asks them only to decide which buttons to show."""

from __future__ import annotations

from django.contrib.auth.models import Group

from models_app.choices import Role
from models_app.models import RegisteredModel

PUBLISH_PERM = "models_app.publish_modelversion"
DECIDE_PERM = "models_app.decide_transitionrequest"
ROLLBACK_PERM = "models_app.rollback_modelversion"
CREATE_MODEL_PERM = "models_app.add_registeredmodel"
GOVERN_MODEL_PERM = "models_app.change_registeredmodel"


def is_team_member(user, team: Group | int) -> bool:
    """Whether ``user`` belongs to the team group (superusers belong everywhere)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    team_id = team if isinstance(team, int) else team.pk
    return user.groups.filter(pk=team_id).exists()


def can_create_model(user, team: Group) -> bool:
    return bool(user.is_active and user.has_perm(CREATE_MODEL_PERM) and is_team_member(user, team))


def can_publish(user, registered_model: RegisteredModel) -> bool:
    """Register versions, move them to and from Staging, request Production, set aliases."""
    return bool(
        user.is_active and user.has_perm(PUBLISH_PERM) and is_team_member(user, registered_model.team_id)
    )


def can_decide(user) -> bool:
    """Approve or reject transition requests (never one's own)."""
    return bool(user.is_active and user.has_perm(DECIDE_PERM))


def can_rollback(user) -> bool:
    """Archive versions and roll back Production."""
    return bool(user.is_active and user.has_perm(ROLLBACK_PERM))


def can_govern_model(user) -> bool:
    """Change a model's team and required approvals."""
    return bool(user.is_active and user.has_perm(GOVERN_MODEL_PERM))


def can_edit_model(user, registered_model: RegisteredModel) -> bool:
    """Edit a model's description and tags."""
    return can_publish(user, registered_model) or can_govern_model(user)


def has_any_role(user) -> bool:
    """Whether the user holds any registry role (or is a superuser)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.groups.filter(name__in=Role.values).exists()
