"""The reviewer UI's pages (GET): inbox, models, versions, compare, history, requests, audit."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from models_app import rules, selectors
from models_app.choices import RequestStatus, Stage, VersionStatus
from models_app.exports import ledger_csv_response
from models_app.filters import (
    LedgerFilterSet,
    RegisteredModelFilterSet,
    TransitionRequestFilterSet,
    production_metric_value,
)
from models_app.ui import lineage, presenters
from models_app.ui.common import (
    attach_compare_urls,
    decorate_requests,
    filtered,
    get_or_404,
    paginate,
    registry_view,
    tidy_filter_form,
)
from models_app.ui.forms import CommentForm, CompareForm, ReasonForm, RollbackForm, TransitionForm


@require_GET
@registry_view
def dashboard(request: HttpRequest) -> HttpResponse:
    """My inbox (awaiting my decision, requests I made), recent ledger, recent Production changes."""
    user = request.user
    can_decide = rules.may_decide(user) is None
    awaiting = list(selectors.transition_request_list_awaiting(user=user)[:20]) if can_decide else []
    mine = list(selectors.transition_request_list_by(user=user)[:10])
    for group in (awaiting, mine):
        decorate_requests(group, user)
        attach_compare_urls(group)
    context = {
        "awaiting": awaiting,
        "mine": mine,
        "recent_ledger": selectors.ledger_list()[:12],
        "production_changes": selectors.ledger_production_changes(limit=8),
        "can_decide": can_decide,
    }
    return render(request, "models_app/dashboard.html", context)


@require_GET
@registry_view
def registeredmodel_list(request: HttpRequest) -> HttpResponse:
    """Models with search and filters (the API's RegisteredModelFilterSet)."""
    filterset = tidy_filter_form(
        RegisteredModelFilterSet(request.GET or None, queryset=selectors.registered_model_list_with_staging())
    )
    qs = filtered(filterset)
    valid = filterset.is_bound and filterset.is_valid()
    metric_name = presenters.model_list_metric(filterset.form.cleaned_data if valid else {})
    if metric_name:
        qs = qs.annotate(shown_metric=production_metric_value(metric_name))
    page = paginate(request, qs, 25)
    models = list(page.object_list)
    for model in models:
        model.mismatched_deployments = presenters.deployment_mismatches(
            model.current_deployments, model.production_version
        )
    return render(
        request,
        "models_app/registeredmodel_list.html",
        {"filter": filterset, "page": page, "models": models, "metric_name": metric_name},
        status=400 if filterset.is_bound and filterset.errors else 200,
    )


@require_GET
@registry_view
def registeredmodel_detail(request: HttpRequest, name: str) -> HttpResponse:
    """The model card, its aliases and requests, a versions table and a chart per metric."""
    model = get_or_404(selectors.registered_model_get, name=name)
    if model.name != name:
        return redirect("models_app:registeredmodel-detail", model.name, permanent=True)
    versions = list(selectors.version_list(registered_model=model)[:200])
    for v in versions:
        v.covering_hold = selectors.hold_covering(version=v)
    production = next((v for v in versions if v.stage == Stage.PRODUCTION), None)
    pending = list(selectors.transition_request_list_pending().filter(version__registered_model=model))
    model_hold = selectors.hold_of_model(registered_model=model)
    may_hold = rules.may_hold(request.user) is None
    decorate_requests(pending, request.user)
    attach_compare_urls(pending)
    context = {
        "model": model,
        "last_change_at": selectors.registered_model_last_change_at(registered_model=model),
        "versions": versions,
        "production": production,
        "key_metrics": presenters.key_metric_names(versions),
        "charts": presenters.metric_charts([v for v in versions if v.status == VersionStatus.READY]),
        "aliases": model.aliases.all(),
        "pending": pending,
        "can_publish": rules.may_publish(request.user, registered_model=model) is None,
        "can_manage_webhooks": rules.may_manage_webhooks(request.user, registered_model=model) is None,
        "model_hold": model_hold,
        "can_hold_model": may_hold
        and rules.hold_placeable(target=f"'{model.name}'", active_hold=model_hold) is None,
        "can_release_model": may_hold and model_hold is not None,
        "reason_form": ReasonForm(),
    }
    return render(request, "models_app/registeredmodel_detail.html", context)


def _version_actions(user, version, requests) -> dict:
    """Which action forms to show the viewer: the rules the services apply on POST, asked in advance."""
    has_pending = {
        Stage(r.target_stage) for r in requests if r.status == RequestStatus.PENDING and not r.target_alias
    }
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
    own_hold = selectors.hold_of_version(version=version)
    may_govern = rules.may_purge(user) is None
    purge_refusal = (
        rules.purgeable(version, **selectors.version_purge_facts(version=version)) if may_govern else None
    )
    return {
        "can_purge": may_govern and purge_refusal is None,
        "purge_refusal": purge_refusal,
        "can_hold": rules.may_hold(user) is None
        and rules.hold_placeable(target=f"v{version.version}", version=version, active_hold=own_hold) is None,
        "can_release": rules.may_hold(user) is None and own_hold is not None,
        "transition_targets": targets,
        "can_request": version.stage != Stage.PRODUCTION
        and rules.may_request(
            user, version=version, target=Stage.PRODUCTION, has_pending=Stage.PRODUCTION in has_pending
        )
        is None,
        "can_retire": version.stage == Stage.PRODUCTION
        and rules.may_request(
            user, version=version, target=Stage.ARCHIVED, has_pending=Stage.ARCHIVED in has_pending
        )
        is None,
        "can_rollback": may_roll_back,
    }


@require_GET
@registry_view
def modelversion_detail(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Every metadata field, files, lineage, ledger, requests and the viewer's actions for one version."""
    model = get_or_404(selectors.registered_model_get, name=name)
    version = get_or_404(selectors.version_get, registered_model=model, ref=number)
    requests = decorate_requests(selectors.transition_request_list_for_version(version=version), request.user)
    attach_compare_urls(requests)
    pending = [r for r in requests if r.status == RequestStatus.PENDING]
    production = selectors.version_list(registered_model=model).filter(stage=Stage.PRODUCTION).first()
    transition_form = TransitionForm()
    context = {
        "model": model,
        "version": version,
        "production": production,
        "files": version.files.all(),
        "children": selectors.version_list_children(version=version),
        "ledger": selectors.ledger_list_for_version(version=version),
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
        "reason_form": ReasonForm(),
        "hold": selectors.hold_covering(version=version),
        "lineage": _lineage_of(version, compared={version.version}),
        **_version_actions(request.user, version, requests),
    }
    return render(request, "models_app/modelversion_detail.html", context)


def history_context(model, query) -> tuple[dict, int]:
    """The point-in-time page's context and status for a
    ``selectors.registered_model_history_at_text`` answer."""
    context = {"model": model, "at_text": query.at_text, "error": query.error, "snapshot": query.snapshot}
    return context, 400 if query.error else 200


@require_GET
@registry_view
def registeredmodel_history(request: HttpRequest, name: str) -> HttpResponse:
    """What held each stage and alias at a moment, and who approved Production on what evidence."""
    model = get_or_404(selectors.registered_model_get, name=name)
    query = selectors.registered_model_history_at_text(registered_model=model, at_text=request.GET.get("at"))
    context, status = history_context(model, query)
    return render(request, "models_app/registeredmodel_history.html", context, status=status)


@require_GET
@registry_view
def modelversion_compare(request: HttpRequest, name: str) -> HttpResponse:
    """Two or more versions side by side; deltas against a baseline (Production by default)."""
    model = get_or_404(selectors.registered_model_get, name=name)
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
        **_compare_extras(request, comparison),
    }
    return render(request, "models_app/modelversion_compare.html", context, status=status)


def _compare_extras(request: HttpRequest, comparison) -> dict:
    """The pending requests of the compared versions (decided right there, with the rules' refusal
    shown to whoever may not) and the lineage of the newest compared version."""
    if comparison is None:
        return {"pending": [], "lineage": None}
    pending = list(
        selectors.transition_request_list_pending().filter(version__in=[v.pk for v in comparison.versions])
    )
    decorate_requests(pending, request.user)
    newest = max(comparison.versions, key=lambda v: v.version)
    return {
        "pending": pending,
        "lineage": _lineage_of(newest, compared={v.version for v in comparison.versions}),
        "comment_form": CommentForm(),
    }


LINEAGE_LIMIT = 12


def _lineage_of(version, *, compared: set[int]):
    """The lineage picture of ``version``: it and up to LINEAGE_LIMIT - 1 ancestors."""
    chain = selectors.version_lineage(version=version, limit=LINEAGE_LIMIT)
    return lineage.lineage(
        chain,
        compared=compared,
        limit_reached=len(chain) == LINEAGE_LIMIT and chain[-1].parent_id is not None,
    )


@require_GET
@registry_view
def transitionrequest_list(request: HttpRequest) -> HttpResponse:
    """Requests with filters (pending by default); approve and reject inline."""
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = RequestStatus.PENDING
    filterset = tidy_filter_form(
        TransitionRequestFilterSet(data, queryset=selectors.transition_request_list()),
        {"model": "Model name", "requested_by": "Requested by"},
    )
    page = paginate(request, filtered(filterset), 25)
    requests = decorate_requests(page.object_list, request.user)
    attach_compare_urls(requests)
    return render(
        request,
        "models_app/transitionrequest_list.html",
        {"filter": filterset, "page": page, "requests": requests, "comment_form": CommentForm()},
    )


@require_GET
@registry_view
def ledgerentry_list(request: HttpRequest) -> HttpResponse:
    """The ledger with filters (model, version, actor, kind, time range)."""
    filterset = tidy_filter_form(
        LedgerFilterSet(request.GET or None, queryset=selectors.ledger_list()),
        {"version": "Version", "actor": "Actor", "kind": "Kind", "since": "From", "until": "Until"},
    )
    for name in ("since", "until"):
        filterset.form.fields[name].widget.input_type = "datetime-local"
    page = paginate(request, filtered(filterset), 50)
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
