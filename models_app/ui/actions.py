"""The reviewer UI's actions (POST only), each one service call: move, request, roll back, decide, cancel,
and Governance's purge and legal holds."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from models_app import rules, selectors, services
from models_app.choices import RequestStatus, Stage
from models_app.ui import presenters
from models_app.ui.common import (
    attach_compare_urls,
    decorate_requests,
    forbid,
    get_or_404,
    next_url,
    registry_view,
    submit,
)
from models_app.ui.forms import CommentForm, ReasonForm, RollbackForm, TransitionForm


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
def modelversion_rollback(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Roll Production back to this (archived, formerly Production) version, with a reason."""
    model, version = _version_for_post(name, number)
    forbid(rules.may_roll_back(request.user))
    submit(
        request,
        RollbackForm(request.POST),
        lambda data: services.version_rollback(
            registered_model=model, version_number=version.version, actor=request.user, reason=data["reason"]
        ),
        lambda v: f"Rolled back: v{v.version} is in Production again.",
    )
    return redirect(next_url(request, _version_url(model, version)))


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
    return _request_action(request, pk, service, lambda r: _decision_message(r, verb))


def _decision_message(req, verb: str) -> str:
    label = f"request #{req.pk} ({req.version.registered_model.name} v{req.version.version})"
    if req.status == RequestStatus.APPROVED:
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
