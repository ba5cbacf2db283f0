"""The tracking endpoints a training script needs: experiments by name, runs (parameters, metrics, tags,
inputs, outputs) and MLflow 3's logged models. Runs and logged models are drafts (``services.tracking``)."""

from __future__ import annotations

from models_app import selectors, services
from models_app.exceptions import InvalidInput
from models_app.mlflow import filters, translate
from models_app.mlflow.http import Params
from models_app.mlflow.paging import page
from models_app.services.tracking import DEFAULT_EXPERIMENT_ID

MAX_LOGGED_MODELS_PAGE = 1000


def _run(p: Params):
    return selectors.run_get(run_id=p.str("run_id", "run_uuid", required=True))


def _experiment(p: Params, user):
    experiment_id = p.str("experiment_id")
    if experiment_id in ("", str(DEFAULT_EXPERIMENT_ID)):
        return services.experiment_default(actor=user)
    return selectors.experiment_get(experiment_id=experiment_id)


# -- experiments ------------------------------------------------------------------------------------------


def experiment_get_by_name(request, p: Params) -> dict:
    experiment = selectors.experiment_get_by_name(name=p.str("experiment_name", required=True))
    return {"experiment": translate.experiment(experiment)}


def experiment_get(request, p: Params) -> dict:
    experiment = selectors.experiment_get(experiment_id=p.str("experiment_id", required=True))
    return {"experiment": translate.experiment(experiment)}


def experiment_create(request, p: Params) -> dict:
    if p.str("artifact_location"):
        raise InvalidInput(
            "The registry chooses where an experiment's files are stored; leave artifact_location out.",
            field="artifact_location",
        )
    experiment = services.experiment_create(
        name=p.str("name", required=True), actor=request.user, tags=p.list("tags")
    )
    return {"experiment_id": str(experiment.pk)}


# -- runs -------------------------------------------------------------------------------------------------


def _run_json(run) -> dict:
    fresh = selectors.run_get(run_id=run.pk)
    return translate.run(fresh, metrics=selectors.run_latest_metrics(run=fresh))


def run_create(request, p: Params) -> dict:
    run = services.run_create(
        experiment=_experiment(p, request.user),
        actor=request.user,
        name=p.str("run_name"),
        start_time=p.raw("start_time"),
        tags=p.list("tags"),
        user_id=p.str("user_id"),
    )
    return {"run": _run_json(run)}


def run_get(request, p: Params) -> dict:
    return {"run": _run_json(_run(p))}


def run_update(request, p: Params) -> dict:
    run = services.run_update(
        run=_run(p),
        actor=request.user,
        status=p.str("status"),
        end_time=p.raw("end_time") if p.has("end_time") else services.UNSET,
        name=p.str("run_name"),
    )
    return {"run_info": translate.run_info(selectors.run_get(run_id=run.pk))}


def log_parameter(request, p: Params) -> dict:
    item = {"key": p.str("key", required=True), "value": p.raw("value", "")}
    services.run_log(run=_run(p), actor=request.user, params=[item])
    return {}


def log_metric(request, p: Params) -> dict:
    item = {k: p.raw(k) for k in ("key", "value", "timestamp", "step")}
    services.run_log(run=_run(p), actor=request.user, metrics=[item])
    return {}


def set_tag(request, p: Params) -> dict:
    item = {"key": p.str("key", required=True), "value": p.raw("value", "")}
    services.run_log(run=_run(p), actor=request.user, tags=[item])
    return {}


def log_batch(request, p: Params) -> dict:
    services.run_log(
        run=_run(p),
        actor=request.user,
        params=p.list("params"),
        metrics=p.list("metrics"),
        tags=p.list("tags"),
    )
    return {}


def log_inputs(request, p: Params) -> dict:
    services.run_inputs_log(run=_run(p), actor=request.user, datasets=p.list("datasets"))
    return {}


def log_outputs(request, p: Params) -> dict:
    services.run_outputs_log(run=_run(p), actor=request.user, models=p.list("models"))
    return {}


def metric_history(request, p: Params) -> dict:
    run = _run(p)
    rows = selectors.run_metric_history(run=run, key=p.str("metric_key", required=True))
    return {"metrics": [translate.metric(m) for m in rows]}


# -- logged models ----------------------------------------------------------------------------------------


def _logged_model_json(logged_model) -> dict:
    fresh = selectors.logged_model_get(model_id=logged_model.pk)
    registrations = selectors.logged_model_versions(logged_models=[fresh]).get(fresh.pk, [])
    return translate.logged_model(fresh, registrations=registrations)


def logged_model_create(request, p: Params) -> dict:
    run_id = p.str("source_run_id")
    logged_model = services.logged_model_create(
        experiment=selectors.experiment_get(experiment_id=p.str("experiment_id", required=True)),
        actor=request.user,
        name=p.str("name", required=True),
        run=selectors.run_get(run_id=run_id) if run_id else None,
        params=p.list("params"),
        tags=p.list("tags"),
        model_type=p.str("model_type"),
    )
    return {"model": _logged_model_json(logged_model)}


def logged_model_get(request, p: Params, model_id: str) -> dict:
    return {"model": _logged_model_json(selectors.logged_model_get(model_id=model_id))}


def logged_model_finalize(request, p: Params, model_id: str) -> dict:
    logged_model = services.logged_model_update(
        logged_model=selectors.logged_model_get(model_id=model_id),
        actor=request.user,
        status=p.str("status", required=True),
    )
    return {"model": _logged_model_json(logged_model)}


def logged_model_set_tags(request, p: Params, model_id: str) -> dict:
    services.logged_model_tags_set(
        logged_model=selectors.logged_model_get(model_id=model_id), actor=request.user, tags=p.list("tags")
    )
    return {}


def logged_model_search(request, p: Params) -> dict:
    ids = []
    for value in p.list("experiment_ids"):
        ids.append(selectors.experiment_get(experiment_id=value).pk)
    if p.list("datasets"):
        raise InvalidInput("Searching logged models by dataset is not supported.", field="datasets")
    text = p.str("filter")
    order = p.list("order_by")
    max_results = p.int("max_results", default=100, minimum=1, maximum=MAX_LOGGED_MODELS_PAGE)
    qs = selectors.logged_model_list(experiment_ids=ids, where=filters.logged_models_where(text))
    qs = qs.order_by(*filters.ordering(order, columns=filters.LOGGED_MODEL_ORDER, default=["-created_at"]))
    models, token = page(
        qs, max_results=max_results, token=p.str("page_token"), search=("logged", ids, text, order)
    )
    registrations = selectors.logged_model_versions(logged_models=models)
    answer: dict = {
        "models": [translate.logged_model(m, registrations=registrations.get(m.pk, [])) for m in models]
    }
    if token:
        answer["next_page_token"] = token
    return answer
