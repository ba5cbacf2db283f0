"""Who signs in, who deactivates accounts and who writes to tracked runs and logged models: the rules of
accounts and tracking (re-exported by ``models_app.rules``)."""

from __future__ import annotations

from models_app import roles
from models_app.exceptions import AccountDeactivated, NotAllowed, PasswordSignInOff, RegistryError

Refusal = RegistryError | None


# -- signing in ------------------------------------------------------------------------------------------

PASSWORD_SIGN_IN_OFF_MESSAGE = (
    "Password sign-in is turned off for this registry: sign in through the identity provider. "
    "Only the break-glass administrator signs in with a password."
)


def may_sign_in_with_password(user, *, username: str, password_login: bool, break_glass_user: str) -> Refusal:
    """Password sign-in is open to everyone unless REGISTRY_PASSWORD_LOGIN is off; then only to the
    break-glass user named by REGISTRY_BREAK_GLASS_USER, and only while that account is an active
    superuser. ``user`` is the account called ``username`` (None when there is none); the message
    is the same whatever the reason, so it tells nobody which accounts exist."""
    if password_login:
        return None
    if (
        break_glass_user
        and username == break_glass_user
        and user is not None
        and user.is_active
        and user.is_superuser
    ):
        return None
    return PasswordSignInOff(PASSWORD_SIGN_IN_OFF_MESSAGE, field="username")


def may_sign_in(user) -> Refusal:
    """Through the identity provider: a registry account that was deactivated stays out."""
    if user.is_active:
        return None
    return AccountDeactivated(
        "This registry account is deactivated; signing in through the identity provider does not "
        "reactivate it. Ask Governance."
    )


# -- users -----------------------------------------------------------------------------------------------


def may_deactivate_user(actor, *, user) -> Refusal:
    """Governance deactivates users (never themselves); only a superuser deactivates a superuser."""
    if not (actor.is_active and actor.has_perm("auth.change_user")):
        return NotAllowed("Only Governance can deactivate users.")
    if user.pk == actor.pk:
        return NotAllowed("You cannot deactivate your own account.")
    if user.is_superuser and not actor.is_superuser:
        return NotAllowed("Only a superuser can deactivate a superuser.")
    return None


# -- tracking: experiments, runs and logged models (drafts) ------------------------------------------------


def may_track(user) -> Refusal:
    """Publishers create experiments, runs and logged models; every registry user may read them."""
    if user and user.is_active and user.has_perm(roles.PUBLISH_PERM):
        return None
    return NotAllowed("Only Publishers can create experiments, runs and logged models.")


def may_write_run(user, *, run) -> Refusal:
    """A run's parameters, metrics, tags and files are written by whoever started it."""
    if user.is_active and (run.created_by_id == user.pk or user.is_superuser):
        return None
    return NotAllowed(f"Only the user who started run {run.id} can log to it.")


def may_write_logged_model(user, *, logged_model) -> Refusal:
    """A logged model's files, status and tags are written by whoever logged it."""
    if user.is_active and (logged_model.created_by_id == user.pk or user.is_superuser):
        return None
    return NotAllowed(f"Only the user who logged model {logged_model.id} can change it.")
