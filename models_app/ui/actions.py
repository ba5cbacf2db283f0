"""The reviewer UI's actions (POST only), each one service call: move, request, roll back, decide, cancel,
and Governance's purge and legal holds."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from models_app import rules, selectors, services
from models_app.choices import RequestKind, RequestStatus, Stage
from models_app.ui import confirmations, presenters
from models_app.ui.common import (
    attach_compare_urls,
    confirmed,
    decorate_requests,
    forbid,
    form_error,
    get_or_404,
    next_url,
    registry_view,
    submit,
)
from models_app.ui.forms import CommentForm, ReasonForm, RetireForm, RollbackForm, TransitionForm


def _version_for_post(name: str, number: int):
    model = get_or_404(selectors.registered_model_get, name=name)
    version = get_or_404(selectors.version_get, registered_model=model, ref=number)
    return model, version


def _version_url(model, version) -> str:
    return reverse("models_app:modelversion-detail", args=[model.name, version.version])


@require_POST
@registry_view
def modelversion_transition(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Move a version to Staging, out of Staging, or to Archived."""
    model, version = _version_for_post(name, number)
    forbid(rules.may_change_stages(request.user, registered_model=model))
    submit(
        request,
        TransitionForm(request.POST),
        lambda data: services.version_transition(
            version=version, to=data["to"], actor=request.user, comment=data["comment"]
        ),
        lambda v: f"v{v.version} moved to {presenters.stage_label(v.stage)}.",
    )
    return redirect(next_url(request, _version_url(model, version)))


@require_POST
@registry_view
def modelversion_request(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Request promotion to Production."""
    model, version = _version_for_post(name, number)
    forbid(rules.may_request_for(request.user, registered_model=model))
    submit(
        request,
        CommentForm(request.POST),
        lambda data: services.transition_request_create(
            version=version, to=Stage.PRODUCTION, actor=request.user, comment=data["comment"]
        ),
        lambda req: (
            f"Requested Production for v{version.version} (request #{req.pk}); reviewers will decide."
        ),
    )
    return redirect(next_url(request, _version_url(model, version)))


@require_POST
@registry_view
def modelversion_retire(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Request the Production version's retirement in two steps: the reason, then a page saying which
    version leaves Production (and that the model will have none) with the button that files the request."""
    model, version = _version_for_post(name, number)
    forbid(rules.may_request_retirement(request.user, registered_model=model))
    form = RetireForm(request.POST)
    if form.is_valid() and not form.cleaned_data["confirmed"]:
        # The duplicate check is the service's, when the confirmed request is filed.
        refusal = rules.may_request(request.user, version=version, target=Stage.ARCHIVED, has_pending=False)
        if refusal is None:
            context = {"model": model, "version": version, "comment": form.cleaned_data["comment"]}
            return render(request, "models_app/modelversion_retire_confirm.html", context)
        messages.error(request, str(refusal))
    else:
        submit(
            request,
            form,
            lambda data: services.transition_request_create(
                version=version, to=Stage.ARCHIVED, actor=request.user, comment=data["comment"]
            ),
            lambda req: (
                f"Requested the retirement of v{version.version} from Production (request #{req.pk}); "
                "reviewers will decide."
            ),
        )
    return redirect(next_url(request, _version_url(model, version)))


@require_POST
@registry_view
def modelversion_rollback(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Roll Production back to this (archived, formerly Production) version, with a reason; the first
    POST answers a confirmation page, the one with ``confirm=yes`` acts."""
    model, version = _version_for_post(name, number)
    forbid(rules.may_roll_back(request.user))
    form = RollbackForm(request.POST)
    back = next_url(request, _version_url(model, version))
    if not confirmed(request):
        if not form.is_valid():
            form_error(request, form)
            return redirect(back)
        ever = selectors.version_ever_in_production(version=version)
        refusal = rules.may_roll_back(request.user, version=version, ever_in_production=ever)
        if refusal is not None:
            messages.error(request, str(refusal))
            return redirect(back)
        production = selectors.version_list(registered_model=model).filter(stage=Stage.PRODUCTION).first()
        confirmation = confirmations.roll_back(
            model_name=model.name,
            version_number=version.version,
            production_number=production.version if production else None,
        )
        return _confirmation_page(
            request,
            confirmation,
            action=reverse("models_app:modelversion-rollback", args=[model.name, version.version]),
            fields={"reason": form.cleaned_data["reason"]},
            back=back,
        )
    submit(
        request,
        form,
        lambda data: services.version_rollback(
            registered_model=model, version_number=version.version, actor=request.user, reason=data["reason"]
        ),
        lambda v: f"Rolled back: v{v.version} is in Production again.",
    )
    return redirect(back)


def _confirmation_page(
    request: HttpRequest, confirmation, *, action: str, fields: dict, back: str, refusal=None
) -> HttpResponse:
    """The confirmation step without JavaScript: what will change, and a form that posts the same
    fields again with ``confirm=yes`` (none when a rule already refuses)."""
    return render(
        request,
        "models_app/confirm.html",
        {
            "confirmation": confirmation,
            "action": action,
            "fields": {**fields, "next": back},
            "back": back,
            "refusal": refusal,
        },
    )


def _request_action(
    request: HttpRequest, pk: int, service: Callable, success: Callable[[object], str]
) -> HttpResponse:
    """One service call on a transition request with the posted comment, then its card or the list."""
    req = get_or_404(selectors.transition_request_get, pk=pk)
    submit(
        request,
        CommentForm(request.POST),
        lambda data: service(transition_request=req, actor=request.user, comment=data["comment"]),
        success,
    )
    return _after_request_action(request, pk)


def _decide(request: HttpRequest, pk: int, service: Callable, verb: str) -> HttpResponse:
    forbid(rules.may_decide(request.user))
    if not confirmed(request):
        return _confirm_decision(request, pk, verb)
    return _request_action(request, pk, service, lambda r: _decision_message(r, verb))


def _approve_confirmation(req, facts) -> tuple[confirmations.Confirmation, rules.Refusal]:
    """What approving would do, and the refusal the service would answer (gates; freeze and staleness
    only when this approval applies the move)."""
    version, model = req.version, req.version.registered_model
    confirmation = confirmations.approve(
        model_name=model.name,
        request_pk=req.pk,
        version_number=version.version,
        production_number=facts.production_number,
        approvals=facts.approvals,
        required=facts.required,
        missing_groups=facts.missing_groups,
        reviewer_groups=facts.reviewer_groups,
        kind=req.kind,
        target_alias=req.target_alias,
    )
    applies = confirmation.applies
    blocker = rules.first(
        # Metric gates judge versions entering Production or a protected alias, not a retirement.
        None
        if req.kind == RequestKind.RETIREMENT
        else rules.gates_pass(facts.policy, registered_model=model, version=version),
        rules.not_frozen(facts.policy, registered_model=model, now=timezone.now()) if applies else None,
        rules.request_applicable(transition_request=req, version=version) if applies else None,
    )
    return confirmation, blocker


def _confirm_decision(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    """The first POST of an approve or reject: the rules' refusal as a message, or the confirmation
    (a page; inside the request's card for htmx)."""
    req = get_or_404(selectors.transition_request_get, pk=pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _after_request_action(request, pk)
    facts = selectors.transition_request_decision_facts(transition_request=req, reviewer=request.user)
    refusal = rules.may_decide_request(request.user, transition_request=req, decided_by=facts.decided_by)
    if refusal is not None:
        messages.error(request, str(refusal))
        return _after_request_action(request, pk)
    if verb == "approved":
        confirmation, blocker = _approve_confirmation(req, facts)
        action = reverse("models_app:transitionrequest-approve", args=[req.pk])
    else:
        confirmation, blocker = (
            confirmations.reject(
                model_name=req.version.registered_model.name,
                request_pk=req.pk,
                version_number=req.version.version,
                production_number=facts.production_number,
                kind=req.kind,
                target_alias=req.target_alias,
            ),
            None,
        )
        action = reverse("models_app:transitionrequest-reject", args=[req.pk])
    fields = {"comment": form.cleaned_data["comment"]}
    back = next_url(request, reverse("models_app:transitionrequest-list"))
    if request.htmx:
        decorate_requests([req], request.user)
        attach_compare_urls([req])
        return render(
            request,
            "models_app/partials/_request_card.html",
            {
                "req": req,
                "use_htmx": True,
                "confirmation": confirmation,
                "confirm_id": f"confirm-{req.pk}",
                "confirm_action": action,
                "confirm_fields": fields,
                "refusal": blocker,
            },
        )
    return _confirmation_page(request, confirmation, action=action, fields=fields, back=back, refusal=blocker)


def _decision_message(req, verb: str) -> str:
    label = f"request #{req.pk} ({req.version.registered_model.name} v{req.version.version})"
    if req.status == RequestStatus.APPROVED:
        if req.kind == RequestKind.ALIAS:
            return f"Approved {label}: @{req.target_alias} now points at v{req.version.version}."
        if req.kind == RequestKind.RETIREMENT:
            return (
                f"Approved {label}: v{req.version.version} left Production; "
                f"{req.version.registered_model.name} has no Production version."
            )
        return f"Approved {label}: v{req.version.version} is now in Production."
    if req.status == RequestStatus.PENDING:
        return f"Approval recorded on {label}; more approvals are needed."
    return f"{verb.capitalize()} {label}."


def _after_request_action(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the request's card, refreshed, with the messages inside it; otherwise redirect back."""
    if request.htmx:
        req = get_or_404(selectors.transition_request_get, pk=pk)
        decorate_requests([req], request.user)
        attach_compare_urls([req])
        return render(
            request,
            "models_app/partials/_request_card.html",
            {"req": req, "comment_form": CommentForm(), "inline_messages": True},
        )
    return redirect(next_url(request, reverse("models_app:transitionrequest-list")))


@require_POST
@registry_view
def transitionrequest_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, services.transition_request_approve, "approved")


@require_POST
@registry_view
def transitionrequest_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, services.transition_request_reject, "rejected")


@require_POST
@registry_view
def transitionrequest_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _request_action(
        request, pk, services.transition_request_cancel, lambda r: f"Cancelled request #{r.pk}."
    )


# -- Governance: purge and legal holds ------------------------------------------------------------------


def _with_reason(request: HttpRequest, action: Callable, success: Callable[[object], str]) -> None:
    submit(request, ReasonForm(request.POST), lambda data: action(data["reason"]), success)


@require_POST
@registry_view
def modelversion_purge(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Purge this version's files now (Governance), with a reason."""
    model, version = _version_for_post(name, number)
    forbid(rules.may_purge(request.user))
    _with_reason(
        request,
        lambda reason: services.version_purge(version=version, actor=request.user, reason=reason),
        lambda r: f"Purged the files of v{r.version.version} ({r.bytes_freed} bytes).",
    )
    return redirect(next_url(request, _version_url(model, version)))


@require_POST
@registry_view
def modelversion_hold(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Place a legal hold on this version (Governance)."""
    model, version = _version_for_post(name, number)
    forbid(rules.may_hold(request.user))
    _with_reason(
        request,
        lambda reason: services.version_hold(version=version, actor=request.user, reason=reason),
        lambda hold: f"v{version.version} is under a legal hold.",
    )
    return redirect(next_url(request, _version_url(model, version)))


@require_POST
@registry_view
def modelversion_hold_release(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Release this version's legal hold (Governance)."""
    model, version = _version_for_post(name, number)
    forbid(rules.may_hold(request.user))
    _with_reason(
        request,
        lambda reason: services.hold_release(version=version, actor=request.user, reason=reason),
        lambda hold: f"Released the legal hold on v{version.version}.",
    )
    return redirect(next_url(request, _version_url(model, version)))


def _model_url(model) -> str:
    return reverse("models_app:registeredmodel-detail", args=[model.name])


@require_POST
@registry_view
def registeredmodel_hold(request: HttpRequest, name: str) -> HttpResponse:
    """Place a legal hold on the whole model (Governance)."""
    model = get_or_404(selectors.registered_model_get, name=name)
    forbid(rules.may_hold(request.user))
    _with_reason(
        request,
        lambda reason: services.model_hold(registered_model=model, actor=request.user, reason=reason),
        lambda hold: f"Every version of {model.name} is under a legal hold.",
    )
    return redirect(next_url(request, _model_url(model)))


@require_POST
@registry_view
def registeredmodel_hold_release(request: HttpRequest, name: str) -> HttpResponse:
    """Release the whole model's legal hold (Governance)."""
    model = get_or_404(selectors.registered_model_get, name=name)
    forbid(rules.may_hold(request.user))
    _with_reason(
        request,
        lambda reason: services.hold_release(registered_model=model, actor=request.user, reason=reason),
        lambda hold: f"Released the legal hold on {model.name}.",
    )
    return redirect(next_url(request, _model_url(model)))
