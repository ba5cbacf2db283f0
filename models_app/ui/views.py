"""The reviewer UI: server-rendered pages, htmx-aware where it helps, every write through services.

Access: anonymous visitors are sent to the login page; signed-in users without any registry role get a
403 page that says whom to ask. Buttons are shown according to ``roles``; a POST from someone whose
role lacks the action entirely is refused with 403, and every rule the services enforce (self-approval,
illegal moves, decided requests) comes back as a message on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from models_app import rules, selectors, services
from models_app.choices import RequestStatus, Stage, VersionStatus
from models_app.exceptions import NotFound, RegistryError
from models_app.exports import ledger_csv_response
from models_app.filters import LedgerFilterSet, RegisteredModelFilterSet, TransitionRequestFilterSet
from models_app.ui import presenters
from models_app.ui.forms import CommentForm, CompareForm, RollbackForm, TransitionForm


def registry_view(view: Callable) -> Callable:
    """Login required; then any registry role (or superuser), else 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        _forbid(rules.may_use_registry(request.user))
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _forbid(refusal: rules.Refusal) -> None:
    """A POST from someone whose role lacks the action entirely is a 403, with the rule's message."""
    if refusal is not None:
        raise PermissionDenied(str(refusal))


def _get_or_404(fn: Callable, **kwargs):
    try:
        return fn(**kwargs)
    except NotFound as exc:
        raise Http404(str(exc)) from None


def _page(request: HttpRequest, queryset, per_page: int):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _tidy_filter_form(filterset, labels: dict[str, str] | None = None):
    """Friendlier labels and an 'Any' choice instead of django-filter's dashes; returns the filterset."""
    for name, field in filterset.form.fields.items():
        if labels and name in labels:
            field.label = labels[name]
        if hasattr(field, "empty_label") and field.empty_label is not None:
            field.empty_label = "Any"
        choices = getattr(field, "choices", None)
        if isinstance(choices, list) and choices and choices[0][0] == "":
            field.choices = [("", "Any"), *choices[1:]]
    return filterset


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _form_error(request: HttpRequest, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else field
        for error in errors:
            messages.error(request, f"{label}: {error}")


def _attempt(request: HttpRequest, action: Callable, success: Callable[[object], str]) -> bool:
    """Run one service call; its domain error becomes an error message instead of a server error."""
    try:
        result = action()
    except RegistryError as exc:
        messages.error(request, str(exc))
        return False
    messages.success(request, success(result))
    return True


def _decorate_requests(requests, user) -> list:
    """Attach what the viewer may do with each request (for showing buttons only)."""
    out = []
    for req in requests:
        decided_by = [a.reviewer_id for a in req.approvals.all()]
        req.viewer_is_requester = req.requested_by_id == user.pk
        req.viewer_has_decided = user.pk in decided_by
        req.viewer_can_decide = (
            rules.may_decide_request(user, transition_request=req, decided_by=decided_by) is None
        )
        req.viewer_can_cancel = rules.may_cancel(user, transition_request=req) is None
        out.append(req)
    return out


def _production_numbers(requests) -> dict[int, int]:
    """Model id -> its Production version number, for 'compare with Production' links."""
    model_ids = {req.version.registered_model_id for req in requests}
    if not model_ids:
        return {}
    rows = (
        selectors.version_list()
        .filter(registered_model_id__in=model_ids, stage=Stage.PRODUCTION)
        .values_list("registered_model_id", "version")
    )
    return dict(rows)


def _attach_compare_urls(requests) -> None:
    production = _production_numbers(requests)
    for req in requests:
        model = req.version.registered_model
        numbers = [production.get(model.pk), req.version.version]
        numbers = [str(n) for n in dict.fromkeys(n for n in numbers if n)]
        req.compare_url = (
            reverse("models_app:modelversion-compare", args=[model.name]) + "?versions=" + ",".join(numbers)
        )
        req.production_number = production.get(model.pk)


# -- pages ---------------------------------------------------------------------------------------------


@require_GET
@registry_view
def dashboard(request: HttpRequest) -> HttpResponse:
    """My inbox (awaiting my decision, requests I made), recent ledger, recent Production changes."""
    user = request.user
    can_decide = rules.may_decide(user) is None
    awaiting = list(selectors.transition_request_awaiting(user=user)[:20]) if can_decide else []
    mine = list(selectors.transition_request_list_by(user=user)[:10])
    for group in (awaiting, mine):
        _decorate_requests(group, user)
        _attach_compare_urls(group)
    context = {
        "awaiting": awaiting,
        "mine": mine,
        "recent_ledger": selectors.ledger_list()[:12],
        "production_changes": selectors.models_production_changed_recently(limit=8),
        "can_decide": can_decide,
    }
    return render(request, "models_app/dashboard.html", context)


@require_GET
@registry_view
def registeredmodel_list(request: HttpRequest) -> HttpResponse:
    """Models with search and filters (the API's RegisteredModelFilterSet)."""
    filterset = _tidy_filter_form(
        RegisteredModelFilterSet(request.GET or None, queryset=selectors.model_list_with_staging())
    )
    page = _page(request, filterset.qs, 25)
    return render(
        request,
        "models_app/registeredmodel_list.html",
        {"filter": filterset, "page": page, "models": page.object_list},
    )


@require_GET
@registry_view
def registeredmodel_detail(request: HttpRequest, name: str) -> HttpResponse:
    """The model card, its aliases and requests, a versions table and a chart per metric."""
    model = _get_or_404(selectors.model_get, name=name)
    if model.name != name:
        return redirect("models_app:registeredmodel-detail", model.name, permanent=True)
    versions = list(selectors.version_list(registered_model=model)[:200])
    production = next((v for v in versions if v.stage == Stage.PRODUCTION), None)
    pending = list(selectors.transition_request_list_pending().filter(version__registered_model=model))
    _decorate_requests(pending, request.user)
    _attach_compare_urls(pending)
    context = {
        "model": model,
        "versions": versions,
        "production": production,
        "key_metrics": presenters.key_metric_names(versions),
        "charts": presenters.metric_charts([v for v in versions if v.status == VersionStatus.READY]),
        "aliases": model.aliases.all(),
        "pending": pending,
        "can_publish": rules.may_publish(request.user, registered_model=model) is None,
        "can_manage_webhooks": rules.may_manage_webhooks(request.user, registered_model=model) is None,
    }
    return render(request, "models_app/registeredmodel_detail.html", context)


def _version_actions(user, version, requests) -> dict:
    """Which action forms to show the viewer: the rules the services apply on POST, asked in advance."""
    has_pending = {Stage(r.target_stage) for r in requests if r.status == RequestStatus.PENDING}
    targets = [
        target
        for target in (Stage.STAGING, Stage.NONE, Stage.ARCHIVED)
        if rules.may_move(user, version=version, target=target) is None
    ]
    may_roll_back = (
        rules.may_roll_back(user) is None
        and rules.may_roll_back(
            user, version=version, ever_in_production=selectors.version_ever_in_production(version=version)
        )
        is None
    )
    return {
        "transition_targets": targets,
        "can_request": rules.may_request(
            user, version=version, target=Stage.PRODUCTION, has_pending=Stage.PRODUCTION in has_pending
        )
        is None,
        "can_rollback": may_roll_back,
    }


@require_GET
@registry_view
def modelversion_detail(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Every metadata field, files, lineage, ledger, requests and the viewer's actions for one version."""
    model = _get_or_404(selectors.model_get, name=name)
    version = _get_or_404(selectors.version_get, registered_model=model, ref=number)
    requests = _decorate_requests(
        selectors.transition_request_list_for_version(version=version), request.user
    )
    _attach_compare_urls(requests)
    pending = [r for r in requests if r.status == RequestStatus.PENDING]
    production = selectors.version_list(registered_model=model).filter(stage=Stage.PRODUCTION).first()
    transition_form = TransitionForm()
    context = {
        "model": model,
        "version": version,
        "production": production,
        "files": version.files.all(),
        "children": selectors.version_children(version=version),
        "ledger": selectors.ledger_for_version(version=version),
        "pending": pending,
        "past_requests": [r for r in requests if r.status != RequestStatus.PENDING],
        "run_url": presenters.http_url(version.run_url),
        "environment_extra": {
            k: v
            for k, v in (version.environment or {}).items()
            if k not in ("python_version", "framework", "framework_version", "libraries", "requirements")
        },
        "transition_form": transition_form,
        "comment_form": CommentForm(),
        "rollback_form": RollbackForm(),
        **_version_actions(request.user, version, requests),
    }
    return render(request, "models_app/modelversion_detail.html", context)


def history_context(model, query) -> tuple[dict, int]:
    """The point-in-time page's context and status for a ``selectors.model_history_for`` answer."""
    context = {"model": model, "at_text": query.at_text, "error": query.error, "snapshot": query.snapshot}
    return context, 400 if query.error else 200


@require_GET
@registry_view
def registeredmodel_history(request: HttpRequest, name: str) -> HttpResponse:
    """What held each stage and alias at a moment, and who approved Production on what evidence."""
    model = _get_or_404(selectors.model_get, name=name)
    query = selectors.model_history_for(registered_model=model, at_text=request.GET.get("at"))
    context, status = history_context(model, query)
    return render(request, "models_app/registeredmodel_history.html", context, status=status)


@require_GET
@registry_view
def modelversion_compare(request: HttpRequest, name: str) -> HttpResponse:
    """Two or more versions side by side; deltas against a baseline (Production by default)."""
    model = _get_or_404(selectors.model_get, name=name)
    all_versions = list(selectors.version_list(registered_model=model)[:200])
    by_number = {v.version: v for v in all_versions}
    production = next((v for v in all_versions if v.stage == Stage.PRODUCTION), None)

    data = {
        "versions": ",".join(request.GET.getlist("versions")),
        "baseline": request.GET.get("baseline") or None,
    }
    form = CompareForm(data)
    status = 200
    comparison = None
    numbers: list[int] = []
    if form.is_valid():
        numbers = form.cleaned_data["versions"]
        missing = [n for n in numbers if n not in by_number]
        if missing:
            form.add_error("versions", f"{model.name} has no version {', '.join(map(str, missing))}.")
            status = 400
    else:
        status = 400

    if status == 200:
        if not numbers:
            latest = next((v for v in all_versions if v.status == VersionStatus.READY), None)
            numbers = [
                n for n in dict.fromkeys([production and production.version, latest and latest.version]) if n
            ]
        elif len(numbers) == 1 and production and production.version != numbers[0]:
            numbers = [production.version, numbers[0]]
        baseline_number = form.cleaned_data.get("baseline")
        if baseline_number not in numbers:
            baseline_number = production.version if production and production.version in numbers else None
        if baseline_number is None and numbers:
            baseline_number = numbers[0]
        if numbers:
            ordered = [baseline_number] + [n for n in numbers if n != baseline_number]
            comparison = presenters.compare_versions(
                [by_number[n] for n in ordered], by_number[baseline_number]
            )
    context = {
        "model": model,
        "form": form,
        "comparison": comparison,
        "selected": numbers,
        "all_versions": all_versions,
        "production": production,
    }
    return render(request, "models_app/modelversion_compare.html", context, status=status)


@require_GET
@registry_view
def transitionrequest_list(request: HttpRequest) -> HttpResponse:
    """Requests with filters (pending by default); approve and reject inline."""
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = RequestStatus.PENDING
    filterset = _tidy_filter_form(
        TransitionRequestFilterSet(data, queryset=selectors.transition_request_list()),
        {"model": "Model name", "requested_by": "Requested by"},
    )
    page = _page(request, filterset.qs, 25)
    requests = _decorate_requests(page.object_list, request.user)
    _attach_compare_urls(requests)
    return render(
        request,
        "models_app/transitionrequest_list.html",
        {"filter": filterset, "page": page, "requests": requests, "comment_form": CommentForm()},
    )


@require_GET
@registry_view
def ledgerentry_list(request: HttpRequest) -> HttpResponse:
    """The ledger with filters (model, version, actor, kind, time range)."""
    filterset = _tidy_filter_form(
        LedgerFilterSet(request.GET or None, queryset=selectors.ledger_list()),
        {"version": "Version", "actor": "Actor", "kind": "Kind", "since": "From", "until": "Until"},
    )
    for name in ("since", "until"):
        filterset.form.fields[name].widget.input_type = "datetime-local"
    page = _page(request, filterset.qs, 50)
    export_query = request.GET.copy()
    export_query.pop("page", None)
    return render(
        request,
        "models_app/ledgerentry_list.html",
        {
            "filter": filterset,
            "page": page,
            "rows": page.object_list,
            "export_query": export_query.urlencode(),
        },
    )


@require_GET
@registry_view
def ledgerentry_export(request: HttpRequest) -> HttpResponse:
    """The filtered ledger as CSV, streamed row by row."""
    filterset = LedgerFilterSet(request.GET or None, queryset=selectors.ledger_list())
    if filterset.is_bound and not filterset.is_valid():
        errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in filterset.errors.items())
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    return ledger_csv_response(filterset.qs.iterator(chunk_size=500), filename="ledger.csv")


# -- actions (POST only) --------------------------------------------------------------------------------


def _version_for_post(name: str, number: int):
    model = _get_or_404(selectors.model_get, name=name)
    version = _get_or_404(selectors.version_get, registered_model=model, ref=number)
    return model, version


def _version_url(model, version) -> str:
    return reverse("models_app:modelversion-detail", args=[model.name, version.version])


@require_POST
@registry_view
def modelversion_transition(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Move a version to Staging, out of Staging, or to Archived."""
    model, version = _version_for_post(name, number)
    _forbid(rules.may_change_stages(request.user, registered_model=model))
    form = TransitionForm(request.POST)
    if form.is_valid():
        _attempt(
            request,
            lambda: services.version_transition(
                version=version,
                to=form.cleaned_data["to"],
                actor=request.user,
                comment=form.cleaned_data["comment"],
            ),
            lambda v: f"v{v.version} moved to {Stage(v.stage).label}.",
        )
    else:
        _form_error(request, form)
    return redirect(_next_url(request, _version_url(model, version)))


@require_POST
@registry_view
def modelversion_request(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Request promotion to Production."""
    model, version = _version_for_post(name, number)
    _forbid(rules.may_request_for(request.user, registered_model=model))
    form = CommentForm(request.POST)
    if form.is_valid():
        _attempt(
            request,
            lambda: services.transition_request_create(
                version=version,
                to=Stage.PRODUCTION,
                requested_by=request.user,
                comment=form.cleaned_data["comment"],
            ),
            lambda req: (
                f"Requested Production for v{version.version} (request #{req.pk}); reviewers will decide."
            ),
        )
    else:
        _form_error(request, form)
    return redirect(_next_url(request, _version_url(model, version)))


@require_POST
@registry_view
def modelversion_rollback(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Roll Production back to this (archived, formerly Production) version, with a reason."""
    model, version = _version_for_post(name, number)
    _forbid(rules.may_roll_back(request.user))
    form = RollbackForm(request.POST)
    if form.is_valid():
        _attempt(
            request,
            lambda: services.version_rollback(
                registered_model=model,
                version_number=version.version,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            ),
            lambda v: f"Rolled back: v{v.version} is in Production again.",
        )
    else:
        _form_error(request, form)
    return redirect(_next_url(request, _version_url(model, version)))


def _decide(request: HttpRequest, pk: int, service: Callable, verb: str) -> HttpResponse:
    _forbid(rules.may_decide(request.user))
    req = _get_or_404(selectors.transition_request_get, pk=pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        _attempt(
            request,
            lambda: service(
                transition_request=req, reviewer=request.user, comment=form.cleaned_data["comment"]
            ),
            lambda r: _decision_message(r, verb),
        )
    else:
        _form_error(request, form)
    return _after_request_action(request, pk)


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
        req = _get_or_404(selectors.transition_request_get, pk=pk)
        _decorate_requests([req], request.user)
        _attach_compare_urls([req])
        return render(
            request,
            "models_app/partials/_request_card.html",
            {"req": req, "comment_form": CommentForm(), "inline_messages": True},
        )
    return redirect(_next_url(request, reverse("models_app:transitionrequest-list")))


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
    req = _get_or_404(selectors.transition_request_get, pk=pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        _attempt(
            request,
            lambda: services.transition_request_cancel(
                transition_request=req, actor=request.user, comment=form.cleaned_data["comment"]
            ),
            lambda r: f"Cancelled request #{r.pk}.",
        )
    else:
        _form_error(request, form)
    return _after_request_action(request, pk)
