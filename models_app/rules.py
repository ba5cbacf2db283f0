"""Every precondition of the registry, one function each.

A rule answers with a *refusal*, the domain error (with its code and message) that explains why the
action is not allowed, or ``None`` when it is. Services raise the refusal (``refuse(...)``); the API,
the MLflow layer, the reviewer UI and the admin ask the same functions which actions to offer, so a
rule and its message exist in exactly one place.

Rules are pure: they take the facts they decide on as arguments (the version as the service read it
under its lock, whether a pending request exists, the model's policy, the moment) and read nothing
themselves, so a page and a service given the same facts give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from models_app import roles
from models_app.choices import RequestStatus, Stage, VersionStatus
from models_app.exceptions import (
    AccountDeactivated,
    AlreadyHeld,
    AlreadyVoted,
    ApprovalRequired,
    DuplicatePendingRequest,
    FreezeWindowActive,
    InvalidInput,
    InvalidTransition,
    NeverInProduction,
    NotAllowed,
    NotHeld,
    PasswordSignInOff,
    PolicyGateFailed,
    PurgeProtected,
    RegistryError,
    RequestAlreadyDecided,
    RollbackRequired,
    SelfApprovalForbidden,
    StaleState,
    VersionHeld,
    VersionNotReady,
    VersionPurged,
)
from models_app.lifecycle import REQUIRES_APPROVAL, REVIEWER_TARGETS, ROLLBACK_MOVES, is_allowed

Refusal = RegistryError | None

NO_ROLE_MESSAGE = (
    "Your account has no registry role yet. Ask Governance to add you to Publishers, Reviewers or Governance."
)


def refuse(refusal: Refusal) -> None:
    """Raise ``refusal`` when there is one: how services apply a rule."""
    if refusal is not None:
        raise refusal


def first(*refusals: Refusal) -> Refusal:
    """The first refusal of several rules checked in order, or None."""
    return next((r for r in refusals if r is not None), None)


def _team_publishers(user, registered_model, *, to: str, or_reviewers: bool = False) -> Refusal:
    """The model's team publishers (and Reviewers, with ``or_reviewers``) may ``to`` (e.g. "register
    versions of") the model."""
    if roles.can_publish(user, registered_model) or (or_reviewers and roles.can_rollback(user)):
        return None
    who = f"Publishers of team '{registered_model.team.name}'" + (" or Reviewers" if or_reviewers else "")
    return NotAllowed(f"Only {who} can {to} '{registered_model.name}'.")


# -- using the registry at all ----------------------------------------------------------------------------


def may_use_registry(user) -> Refusal:
    """Signed in, active and holding a registry role (Publishers, Reviewers, Governance) or superuser."""
    if roles.has_any_role(user):
        return None
    return NotAllowed(NO_ROLE_MESSAGE)


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


# -- models -----------------------------------------------------------------------------------------------


def may_create_model(user, *, team) -> Refusal:
    """Publishers create models for the teams they belong to."""
    if roles.can_create_model(user, team):
        return None
    return NotAllowed(f"Only Publishers who are members of team '{team.name}' can create its models.")


def may_edit_model(user, *, registered_model) -> Refusal:
    """The model's team publishers and Governance edit its description and tags."""
    if roles.can_edit_model(user, registered_model):
        return None
    return NotAllowed("Only the model's team publishers or Governance can edit its description and tags.")


def may_govern(user) -> Refusal:
    """Governance changes a model's team, its required approvals and its promotion policy."""
    if roles.can_govern_model(user):
        return None
    return NotAllowed("Only Governance can change a model's team, required approvals or promotion policy.")


# -- versions ---------------------------------------------------------------------------------------------


def may_publish(user, *, registered_model) -> Refusal:
    """The model's team publishers register versions (in one request or by direct upload)."""
    return _team_publishers(user, registered_model, to="register versions of")


def may_edit_version(user, *, version) -> Refusal:
    """The model's team publishers (and Governance) edit a version's description and tags."""
    if roles.can_edit_model(user, version.registered_model):
        return None
    return NotAllowed("Only the model's team publishers can edit its versions.")


def version_usable(version, *, to: str, field: str | None = None) -> Refusal:
    """A version is usable (staged, aliased, deployed, downloaded) only once every file is stored and
    verified, and never again once its files were purged; ``to`` says for what, e.g. ``"change stage"``."""
    if version.status == VersionStatus.READY:
        return None
    if version.status == VersionStatus.PURGED:
        return VersionPurged(f"v{version.version}'s files were purged; it can no longer {to}.", field=field)
    return VersionNotReady(
        f"v{version.version} is {version.status}; only ready versions can {to}.", field=field
    )


def may_manage_uploads(user, *, session) -> Refusal:
    """A direct upload (and its part URLs, which are write capabilities on the bucket) is seen, completed
    or aborted by whoever opened it or the model's team publishers."""
    if session.created_by_id == user.pk or roles.can_publish(user, session.version.registered_model):
        return None
    return NotAllowed("Only the model's team publishers can see, complete or abort its uploads.")


# -- stages -----------------------------------------------------------------------------------------------


def may_change_stages(user, *, registered_model) -> Refusal:
    """Whether the user takes part in stage changes of this model at all (its team's publishers or
    Reviewers); which moves each may make is ``may_move``'s to say."""
    if roles.can_publish(user, registered_model) or roles.can_rollback(user):
        return None
    return NotAllowed(
        f"You cannot change stages of '{registered_model.name}': that needs team Publishers or Reviewers."
    )


def may_move(user, *, version, target: Stage) -> Refusal:
    """A direct move (no approval): where the transition table allows it, by the right role.

    Production needs a request (ApprovalRequired), archived -> production a rollback; moves to Archived
    are the Reviewers', the others the team's publishers'. Freeze windows are ``not_frozen``'s.
    """
    current = Stage(version.stage)
    model = version.registered_model
    if refusal := version_usable(version, to="change stage"):
        return refusal
    if (current, target) in ROLLBACK_MOVES:
        return RollbackRequired()
    if target in REQUIRES_APPROVAL and current == Stage.STAGING:
        return ApprovalRequired()
    if not is_allowed(current, target):
        return InvalidTransition(current=current, target=target)
    if target in REVIEWER_TARGETS:
        if not roles.can_rollback(user):
            return NotAllowed("Only Reviewers can archive versions.")
    elif not roles.can_publish(user, model):
        return NotAllowed(
            f"Only Publishers of team '{model.team.name}' can move versions of '{model.name}' to {target}."
        )
    return None


def not_frozen(policy, *, registered_model, now: datetime) -> Refusal:
    """Production changes other than rollbacks are refused while a freeze window of the policy is open."""
    window = next((w for w in policy.freeze_windows if w.contains(now)), None)
    if window is None:
        return None
    return FreezeWindowActive(
        f"Production changes to '{registered_model.name}' are frozen from {window.start.isoformat()} "
        f"until {window.end.isoformat()}"
        + (f" ({window.reason})" if window.reason else "")
        + "; only rollbacks are allowed.",
        field="to",
    )


def may_roll_back(user, *, version=None, ever_in_production: bool = True) -> Refusal:
    """Reviewers return a ready, archived version that was in Production before straight to Production.

    Without ``version``: whether the user may roll back at all.
    """
    if not roles.can_rollback(user):
        return NotAllowed("Only Reviewers can roll back Production.")
    if version is None:
        return None
    if refusal := version_usable(version, to="change stage"):
        return refusal
    if not ever_in_production:
        return NeverInProduction(
            f"v{version.version} has never been in Production, so it cannot be rolled back to; "
            "request a promotion instead.",
            field="version",
        )
    current = Stage(version.stage)
    if not is_allowed(current, Stage.PRODUCTION, rollback=True):
        return InvalidTransition(current=current, target=Stage.PRODUCTION, rollback=True)
    return None


# -- transition requests ----------------------------------------------------------------------------------


def needs_request(target: Stage) -> Refusal:
    """Only moves that need approval are requested; the others are made directly."""
    if target in REQUIRES_APPROVAL:
        return None
    return InvalidInput(
        f"Moving to '{target}' needs no approval; make the move directly instead.", field="to"
    )


def may_request(user, *, version, target: Stage, has_pending: bool) -> Refusal:
    """The team's publishers request a move that needs approval for a ready version, one at a time."""
    current = Stage(version.stage)
    return first(
        needs_request(target),
        may_request_for(user, registered_model=version.registered_model),
        version_usable(version, to="change stage"),
        None if is_allowed(current, target) else InvalidTransition(current=current, target=target),
        DuplicatePendingRequest(
            f"v{version.version} already has a pending request to move to {target}.", field="version"
        )
        if has_pending
        else None,
    )


def may_request_for(user, *, registered_model) -> Refusal:
    """Whether the user may request promotions of this model's versions at all."""
    return _team_publishers(user, registered_model, to="request promotions of")


def gates_pass(policy, *, registered_model, version) -> Refusal:
    """Every metric gate of the policy passes on the version's metrics (checked at request and at each
    approval, since the policy may have been tightened meanwhile)."""
    failures = [msg for gate in policy.metric_gates if (msg := gate.check(version.metrics)) is not None]
    if not failures:
        return None
    return PolicyGateFailed(
        f"v{version.version} of '{registered_model.name}' fails the Production gates: "
        + "; ".join(failures)
        + ".",
        field="metrics",
    )


def request_applicable(*, transition_request, version) -> Refusal:
    """An approved request is applied only while its version is still in Staging, where it was requested."""
    current = Stage(version.stage)
    if current != Stage.STAGING:
        return StaleState(
            f"v{version.version} is in {current} now, no longer in Staging; the request cannot be applied."
        )
    target = Stage(transition_request.target_stage)
    if not is_allowed(current, target):
        return InvalidTransition(current=current, target=target)
    return None


def may_decide(user) -> Refusal:
    """Whether the user decides transition requests at all (Reviewers)."""
    if roles.can_decide(user):
        return None
    return NotAllowed("Only Reviewers can approve or reject transition requests.")


def may_decide_request(user, *, transition_request, decided_by: Iterable[int]) -> Refusal:
    """A Reviewer other than the requester decides a pending request once; ``decided_by`` holds the ids
    of the reviewers who already did."""
    if transition_request.status != RequestStatus.PENDING:
        return RequestAlreadyDecided(
            f"Request #{transition_request.pk} is already {transition_request.status}."
        )
    if transition_request.requested_by_id == user.pk:
        return SelfApprovalForbidden()
    if refusal := may_decide(user):
        return refusal
    if user.pk in set(decided_by):
        return AlreadyVoted(f"You have already decided on request #{transition_request.pk}.")
    return None


def may_cancel(user, *, transition_request) -> Refusal:
    """Only the requester (or a superuser) withdraws a pending request."""
    if transition_request.status != RequestStatus.PENDING:
        return RequestAlreadyDecided(
            f"Request #{transition_request.pk} is already {transition_request.status}."
        )
    if transition_request.requested_by_id == user.pk or user.is_superuser:
        return None
    return NotAllowed("Only the requester can cancel a transition request.")


def promotion_needs_request(*, version) -> Refusal:
    """No call moves a version into Production but an approved transition request (or a Reviewer's rollback
    of a version that was in Production before); the refusal says how to ask, whatever the version's stage."""
    model = version.registered_model
    current = Stage(version.stage)
    if current == Stage.PRODUCTION:
        return None
    how = (
        f"request it with POST /api/v1/transition-requests/ "
        f'{{"model": "{model.name}", "version": {version.version}, "to": "production"}} '
        f"or `modelreg request {model.name} {version.version} --to production`"
    )
    if current != Stage.STAGING:
        how = f"move it to Staging first, then {how}"
    return ApprovalRequired(
        f"Moving v{version.version} of '{model.name}' to Production needs an approved transition request, "
        f"so nothing was changed: {how}.",
        field="stage",
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


# -- what never happens to models and versions ------------------------------------------------------------


def never_deleted(*, what: str) -> Refusal:
    """Models and versions are never deleted: the append-only ledger refers to them forever."""
    return NotAllowed(
        f"{what} cannot be deleted: the registry's audit ledger refers to every model and version forever. "
        "Archive versions instead (stage Archived)."
    )


def never_renamed(*, registered_model) -> Refusal:
    """A model keeps its name: versions, aliases, the ledger and every pipeline refer to it by name."""
    return NotAllowed(
        f"Models cannot be renamed: '{registered_model.name}' is how its versions, aliases, ledger rows and "
        "pipelines refer to it. Create a new model and register versions there instead."
    )


def sole_team(user, *, teams: list, field: str = "tags.team") -> Refusal:
    """A model created without naming its team belongs to its creator's only team; with none or several,
    the creator has to name it. Only Publishers create models at all."""
    if not (user.is_active and user.has_perm(roles.CREATE_MODEL_PERM)):
        return NotAllowed("Only Publishers can create models.")
    if len(teams) == 1:
        return None
    if not teams:
        return InvalidInput(
            "You belong to no team, so the new model has no owner: name its team with the 'team' tag.",
            field=field,
        )
    names = ", ".join(sorted(t.name for t in teams))
    return InvalidInput(
        f"You belong to several teams ({names}): name the new model's owning team with the 'team' tag.",
        field=field,
    )


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


# -- retention, purges and legal holds ---------------------------------------------------------------


def may_purge(user) -> Refusal:
    """Governance purges a version's files (retention purges under its own system account)."""
    if roles.can_govern_model(user):
        return None
    return NotAllowed("Only Governance can purge a version's files.")


def _since(hold) -> str:
    scope = "on the whole model " if hold.version_id is None else ""
    return f"{scope}since {hold.placed_at:%Y-%m-%d %H:%M} UTC ({hold.reason})"


def purgeable(version, *, aliases: Iterable[str] = (), has_pending: bool = False, hold=None) -> Refusal:
    """Whether a version's files may be purged, by any path (retention, Governance, the admin).

    Never: a version that is not ready (or already purged), the Production version, a Staging version, a
    version an alias points to (``aliases``: their names), one with a pending request, or one under a
    legal hold (``hold``: the active hold covering it, its own or its model's).
    """
    if refusal := version_usable(version, to="be purged"):
        return refusal
    number = f"v{version.version}"
    stage = Stage(version.stage)
    if stage in (Stage.PRODUCTION, Stage.STAGING):
        return PurgeProtected(f"{number} is in {stage.label}; its files are never purged.")
    names = sorted(aliases)
    if names:
        return PurgeProtected(
            f"{number} carries {', '.join(f'@{a}' for a in names)}; move the alias first to purge it."
        )
    if has_pending:
        return PurgeProtected(f"{number} has a pending transition request; decide or cancel it first.")
    if hold is not None:
        return VersionHeld(f"{number} is under a legal hold {_since(hold)}; release the hold first.")
    return None


def may_hold(user) -> Refusal:
    """Governance places and releases legal holds."""
    if roles.can_govern_model(user):
        return None
    return NotAllowed("Only Governance can place or release legal holds.")


def hold_placeable(*, target: str, version=None, active_hold=None) -> Refusal:
    """A hold goes on a version whose files are still there, or on a model, once at a time; ``target``
    names it in the message (``"v3 of 'churn'"``), ``active_hold`` is the target's own active hold."""
    if version is not None and version.status == VersionStatus.PURGED:
        return VersionPurged(f"{target}'s files were purged; there is nothing left to hold.")
    if active_hold is not None:
        return AlreadyHeld(f"{target} is already under a legal hold {_since(active_hold)}.")
    return None


def hold_releasable(*, target: str, active_hold=None, model_hold=None) -> Refusal:
    """Only an active hold is released; a version covered by its model's hold alone is released with the
    model's (``model_hold``)."""
    if active_hold is not None:
        return None
    if model_hold is not None:
        return NotHeld(
            f"{target} has no legal hold of its own; the hold on the whole model covers it, release that one."
        )
    return NotHeld(f"{target} is not under a legal hold.")


# -- aliases, deployments, webhooks -----------------------------------------------------------------------


def may_move_alias(user, *, registered_model) -> Refusal:
    """The model's team publishers and Reviewers set, move and remove its aliases."""
    return _team_publishers(user, registered_model, to="move aliases of", or_reviewers=True)


def may_report_deployment(user, *, registered_model) -> Refusal:
    """The model's team publishers and Reviewers (who roll back) report what CD deployed."""
    return _team_publishers(user, registered_model, to="report deployments of", or_reviewers=True)


def may_manage_webhooks(user, *, registered_model=None, team=None) -> Refusal:
    """Subscriptions to a model's (or a team's) events are managed by that team's publishers and by
    Governance; a subscription to every model is Governance's alone."""
    if (
        user
        and user.is_authenticated
        and user.is_active
        and (user.is_superuser or roles.can_govern_model(user))
    ):
        return None
    scope = registered_model.team if registered_model is not None else team
    if scope is None:
        return NotAllowed(
            "Only Governance can subscribe to the events of every model; give a model or a team."
        )
    if (
        user
        and user.is_authenticated
        and user.has_perm(roles.PUBLISH_PERM)
        and roles.is_team_member(user, scope)
    ):
        return None
    return NotAllowed(f"Only Publishers of team '{scope.name}' or Governance can manage these webhooks.")
