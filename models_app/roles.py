"""Who may do what. Services enforce these; the UI asks them only to decide which buttons to show."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission, User
from django.db.models import CharField, IntegerField, Value
from django.db.models.functions import Coalesce
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from models_app.choices import Role
from models_app.models import RegisteredModel

PUBLISH_PERM = "models_app.publish_modelversion"
DECIDE_PERM = "models_app.decide_transitionrequest"
ROLLBACK_PERM = "models_app.rollback_modelversion"
CREATE_MODEL_PERM = "models_app.add_registeredmodel"
GOVERN_MODEL_PERM = "models_app.change_registeredmodel"


# The user's groups (id -> name), read once per user object: a request authenticates one user object, so
# its role and team checks cost one query in all, like Django's own permission cache on the same object.
_GROUPS_CACHE = "_registry_groups"


def group_names_by_id(user) -> dict[int, str]:
    """The ids and names of the groups ``user`` belongs to, cached on the user object.

    The same query brings the user's permissions (its own and its groups'), which it leaves in the cache
    Django's ModelBackend keeps on the user object: ``has_perm`` then needs no query of its own."""
    cached = getattr(user, _GROUPS_CACHE, None)
    if cached is not None:
        return cached
    text = Value("", output_field=CharField())
    by_group = (
        Group.objects.filter(user=user)
        .order_by()
        .values_list(
            "pk",
            "name",
            Coalesce("permissions__content_type__app_label", text),
            Coalesce("permissions__codename", text),
        )
    )
    own = (
        Permission.objects.filter(user=user)
        .order_by()
        .values_list(Value(None, output_field=IntegerField()), text, "content_type__app_label", "codename")
    )
    cached, perms = {}, set()
    for group_id, name, app_label, codename in by_group.union(own, all=True):
        if group_id is not None:
            cached[group_id] = name
        if codename:
            perms.add(f"{app_label}.{codename}")
    if user.is_active and not user.is_anonymous and not hasattr(user, "_perm_cache"):
        user._perm_cache = perms
    setattr(user, _GROUPS_CACHE, cached)
    return cached


def _load(user) -> None:
    """Read the user's groups and permissions in one query before a permission check needs them."""
    if user is not None and user.is_authenticated:
        group_names_by_id(user)


@receiver(m2m_changed, sender=User.groups.through)
def _forget_groups(sender, instance, action, **kwargs) -> None:
    """``user.groups.add(...)`` and friends: the same user object answers with its new groups."""
    if action.startswith("post_") and isinstance(instance, User):
        instance.__dict__.pop(_GROUPS_CACHE, None)
        instance.__dict__.pop("_perm_cache", None)
        instance.__dict__.pop("_group_perm_cache", None)


def is_team_member(user, team: Group | int) -> bool:
    """Whether ``user`` belongs to the team group (superusers belong everywhere)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    team_id = team if isinstance(team, int) else team.pk
    return team_id in group_names_by_id(user)


def can_create_model(user, team: Group) -> bool:
    _load(user)
    return bool(user.is_active and user.has_perm(CREATE_MODEL_PERM) and is_team_member(user, team))


def can_publish(user, registered_model: RegisteredModel) -> bool:
    """Register versions, move them to and from Staging, request Production, set aliases."""
    _load(user)
    return bool(
        user.is_active and user.has_perm(PUBLISH_PERM) and is_team_member(user, registered_model.team_id)
    )


def can_decide(user) -> bool:
    """Approve or reject transition requests (never one's own)."""
    _load(user)
    return bool(user.is_active and user.has_perm(DECIDE_PERM))


def can_rollback(user) -> bool:
    """Archive versions and roll back Production."""
    _load(user)
    return bool(user.is_active and user.has_perm(ROLLBACK_PERM))


def can_govern_model(user) -> bool:
    """Change a model's team and required approvals."""
    _load(user)
    return bool(user.is_active and user.has_perm(GOVERN_MODEL_PERM))


def can_edit_model(user, registered_model: RegisteredModel) -> bool:
    """Edit a model's description and tags."""
    return can_publish(user, registered_model) or can_govern_model(user)


def has_any_role(user) -> bool:
    """Whether the user holds any registry role (or is a superuser)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or not set(Role.values).isdisjoint(group_names_by_id(user).values())
