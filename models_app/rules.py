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
from models_app.account_rules import PASSWORD_SIGN_IN_OFF_MESSAGE as PASSWORD_SIGN_IN_OFF_MESSAGE
from models_app.account_rules import may_deactivate_user as may_deactivate_user
from models_app.account_rules import may_sign_in as may_sign_in
from models_app.account_rules import may_sign_in_with_password as may_sign_in_with_password
from models_app.account_rules import may_track as may_track
from models_app.account_rules import may_write_logged_model as may_write_logged_model
from models_app.account_rules import may_write_run as may_write_run
from models_app.choices import RequestStatus, Stage, VersionStatus
from models_app.exceptions import (
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


def may_read_policy(user, *, registered_model) -> Refusal:
    """A model's policy document is read by its team's members and by Governance."""
    if roles.can_govern_model(user) or roles.is_team_member(user, registered_model.team_id):
        return None
    return NotAllowed(
        f"Only members of team '{registered_model.team.name}' or Governance can read the policy of "
        f"'{registered_model.name}'."
    )


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

    Production needs a request (ApprovalRequired), and so does leaving it (``retirement_needs_request``);
    archived -> production needs a rollback; moves to Archived are the Reviewers', the others the team's
    publishers'. Freeze windows are ``not_frozen``'s.
    """
    current = Stage(version.stage)
    model = version.registered_model
    if refusal := version_usable(version, to="change stage"):
        return refusal
    if current == Stage.PRODUCTION:
        return retirement_needs_request(version=version)
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


def needs_request(target: Stage, *, current: Stage | None = None) -> Refusal:
    """Only moves that need approval are requested (into Production, and out of it); the others are made
    directly."""
    if target in REQUIRES_APPROVAL or current == Stage.PRODUCTION:
        return None
    return InvalidInput(
        f"Moving to '{target}' needs no approval; make the move directly instead.", field="to"
    )


def may_request(user, *, version, target: Stage, has_pending: bool) -> Refusal:
    """A move that needs approval is requested for a ready version, one at a time: a promotion by the
    team's publishers, a retirement of the Production version by them or a Reviewer."""
    current = Stage(version.stage)
    model = version.registered_model
    return first(
        needs_request(target, current=current),
        may_request_retirement(user, registered_model=model)
        if current == Stage.PRODUCTION
        else may_request_for(user, registered_model=model),
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


def may_request_retirement(user, *, registered_model) -> Refusal:
    """The team's publishers and Reviewers (who archived versions before) request a Production version's
    retirement; other Reviewers decide it."""
    return _team_publishers(user, registered_model, to="request the retirement of", or_reviewers=True)


def retirement_needs_request(*, version) -> Refusal:
    """The Production version never leaves Production by a direct move: its retirement is requested, with
    a reason, and applied on approval. (Promoting another version or a rollback supersede it as before.)"""
    model = version.registered_model
    return ApprovalRequired(
        f"v{version.version} of '{model.name}' is in Production; moving it out needs an approved request, "
        f"so nothing was changed: request it with POST /api/v1/transition-requests/ "
        f'{{"model": "{model.name}", "version": {version.version}, "to": "archived", "comment": "<reason>"}}, '
        "or promote another version to replace it.",
        field="stage",
    )


def _alias_how(model, alias: str, version_number: int | None) -> str:
    number = version_number if version_number is not None else "<version>"
    return (
        f'POST /api/v1/transition-requests/ {{"model": "{model.name}", "version": {number}, '
        f'"to": "@{alias}", "comment": "<why>"}}'
    )


def alias_unprotected(
    policy, *, registered_model, alias: str, version_number: int | None = None, removing: bool = False
) -> Refusal:
    """An alias the model's policy protects is never set, moved or removed directly: pointing it at a
    version is requested and applied on approval; removing it needs Governance to unprotect it first."""
    if alias not in policy.protected_aliases:
        return None
    model = registered_model
    if removing:
        return ApprovalRequired(
            f"'@{alias}' of '{model.name}' is a protected alias, so nothing was changed: it is never removed "
            f"directly. Point it at another version with {_alias_how(model, alias, None)}, or Governance "
            f"takes it off the protected aliases (PUT /api/v1/models/{model.name}/policy/) first.",
            field="alias",
        )
    return ApprovalRequired(
        f"'@{alias}' of '{model.name}' is a protected alias; moving it needs an approved request, so "
        f"nothing was changed: request it with {_alias_how(model, alias, version_number)}.",
        field="alias",
    )


def may_request_alias(
    user, *, version, alias: str, policy, has_pending: bool, points_at: int | None = None
) -> Refusal:
    """The team's publishers and Reviewers request a protected alias be pointed at a ready version (an
    unprotected one is set directly, compare-and-set), one pending request per alias and version, and
    not at the version it points at already (``points_at``)."""
    model = version.registered_model
    return first(
        may_move_alias(user, registered_model=model),
        None
        if alias in policy.protected_aliases
        else InvalidInput(
            f"'@{alias}' is not a protected alias of '{model.name}'; set it directly with "
            f"PUT /api/v1/models/{model.name}/aliases/{alias}/.",
            field="to",
        ),
        version_usable(version, to="carry an alias"),
        DuplicatePendingRequest(
            f"v{version.version} already has a pending request to carry '@{alias}'.", field="version"
        )
        if has_pending
        else None,
        InvalidInput(f"'@{alias}' already points at v{version.version}.", field="version")
        if points_at == version.version
        else None,
    )


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
    """An approved request is applied only while its version is still where it was requested: in Staging
    for a promotion, in Production for a retirement; an alias request while the version is usable."""
    if transition_request.target_alias:
        return version_usable(version, to="carry an alias")
    current = Stage(version.stage)
    target = Stage(transition_request.target_stage)
    # Where the request was made: a retirement (to Archived) from Production, anything else from Staging.
    expected = Stage.PRODUCTION if target == Stage.ARCHIVED else Stage.STAGING
    if current != expected:
        return StaleState(
            f"v{version.version} is in {current} now, no longer in {expected.label}; "
            "the request cannot be applied."
        )
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
