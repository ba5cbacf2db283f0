"""The model registry endpoints of the protocol (``/api/2.0/mlflow/registered-models/...`` and
``/model-versions/...``), each one service call or one read.

What the registry does not do is refused with the rule that says why: models and versions are never
deleted (the ledger refers to them), never renamed, and nothing enters Production but an approved request.
A model created here needs an owning team: its ``team`` tag, else its creator's only team.
"""

from __future__ import annotations

from models_app import rules, selectors, services
from models_app.choices import Stage
from models_app.exceptions import InvalidInput, ModelAlreadyExists, NotFound
from models_app.mlflow import filters, paths, sources, translate
from models_app.mlflow.http import Params
from models_app.mlflow.paging import page
from models_app.mlflow.translate import TEAM_TAG
from models_app.models import RegisteredModel

MAX_MODELS_PAGE = 1000
MAX_VERSIONS_PAGE = 10_000


def _model(p: Params) -> RegisteredModel:
    return selectors.tracked_model_get(name=p.str("name", required=True))


def _version(p: Params, model: RegisteredModel | None = None):
    model = model or _model(p)
    return selectors.tracked_version_get(registered_model=model, number=p.str("version", required=True))


def _model_json(request, model: RegisteredModel) -> dict:
    latest = selectors.latest_per_stage(models=[model]).get(model.pk, [])
    return translate.registered_model(model, latest=latest, request=request)


def _version_json(request, version) -> dict:
    fresh = selectors.tracked_version_get(registered_model=version.registered_model, number=version.version)
    return translate.model_version(fresh, request=request)


def _team(name: str | None, user):
    """The owning team of a model created here: the one its ``team`` tag names, else the creator's only team."""
    if name is not None:
        team = selectors.group_by_name(name)
        if team is None:
            raise InvalidInput(f"No team named '{name}'.", field="tags.team")
        return team
    teams = selectors.teams_of(user)
    rules.refuse(rules.sole_team(user, teams=teams))
    return teams[0]


# -- registered models ------------------------------------------------------------------------------------


def registered_model_create(request, p: Params) -> dict:
    name = p.str("name", required=True)
    tags = p.tags()
    try:
        selectors.tracked_model_get(name=name)
    except NotFound:
        pass
    else:
        # Before the team is chosen: re-registering into an existing model is the client's normal path.
        raise ModelAlreadyExists(f"Registered Model (name={name}) already exists.", field="name")
    team = _team(tags.pop(TEAM_TAG, None), request.user)
    model = services.registered_model_create(
        name=name, team=team, actor=request.user, description=p.str("description"), tags=tags
    )
    return {"registered_model": _model_json(request, selectors.tracked_model_get(name=model.name))}


def registered_model_get(request, p: Params) -> dict:
    return {"registered_model": _model_json(request, _model(p))}


def registered_model_update(request, p: Params) -> dict:
    model = _model(p)
    if p.raw("description") is not None:
        services.registered_model_update(
            registered_model=model, actor=request.user, description=p.str("description")
        )
    return {"registered_model": _model_json(request, selectors.tracked_model_get(name=model.name))}


def registered_model_rename(request, p: Params) -> dict:
    rules.refuse(rules.never_renamed(registered_model=_model(p)))
    return {}


def registered_model_delete(request, p: Params) -> dict:
    model = _model(p)
    rules.refuse(rules.never_deleted(what=f"Registered model '{model.name}'"))
    return {}


def registered_model_search(request, p: Params) -> dict:
    text = p.str("filter")
    order = p.list("order_by")
    max_results = p.int("max_results", default=100, minimum=1, maximum=MAX_MODELS_PAGE)
    qs = selectors.tracked_model_list().filter(filters.models_where(text))
    qs = qs.order_by(*filters.ordering(order, columns=filters.MODEL_ORDER, default=["name"]))
    models, token = page(
        qs, max_results=max_results, token=p.str("page_token"), search=("models", text, order)
    )
    latest = selectors.latest_per_stage(models=models)
    answer: dict = {
        "registered_models": [
            translate.registered_model(m, latest=latest.get(m.pk, []), request=request) for m in models
        ]
    }
    if token:
        answer["next_page_token"] = token
    return answer


def registered_model_set_tag(request, p: Params) -> dict:
    model = _model(p)
    key, value = p.str("key", required=True), p.str("value")
    if key == TEAM_TAG:
        # The team tag is the owning team: setting it is a change of ownership, which is Governance's.
        if value != model.team.name:
            team = selectors.group_by_name(value)
            if team is None:
                raise InvalidInput(f"No team named '{value}'.", field="value")
            services.registered_model_update(registered_model=model, actor=request.user, team=team)
        return {}
    services.registered_model_tag_set(registered_model=model, key=key, value=value, actor=request.user)
    return {}


def registered_model_delete_tag(request, p: Params) -> dict:
    model = _model(p)
    key = p.str("key", required=True)
    if key == TEAM_TAG:
        raise InvalidInput(
            "The 'team' tag is the model's owning team and cannot be removed; Governance can set another team.",
            field="key",
        )
    services.registered_model_tag_delete(registered_model=model, key=key, actor=request.user)
    return {}


# -- aliases ----------------------------------------------------------------------------------------------


def alias_set(request, p: Params) -> dict:
    model = _model(p)
    version = _version(p, model)
    services.alias_set(
        registered_model=model,
        alias=p.str("alias", required=True),
        version_number=version.version,
        actor=request.user,
    )
    return {}


def alias_get(request, p: Params) -> dict:
    model = _model(p)
    alias = p.str("alias", required=True)
    if alias == "latest":
        ref = "latest"
    else:
        ref = next((str(a.version.version) for a in model.aliases.all() if a.name == alias), None)
        if ref is None:
            raise InvalidInput(f"Registered model alias {alias} not found.", field="alias")
    try:
        version = selectors.version_get(registered_model=model, ref=ref)
    except NotFound:
        raise InvalidInput(f"Registered model alias {alias} not found.", field="alias") from None
    return {"model_version": _version_json(request, version)}


def alias_delete(request, p: Params) -> dict:
    model = _model(p)
    alias = p.str("alias", required=True)
    if any(a.name == alias for a in model.aliases.all()):
        services.alias_delete(registered_model=model, alias=alias, actor=request.user)
    else:
        # Removing an alias that is not set changes nothing; the client treats it as done, as MLflow does.
        rules.refuse(rules.may_move_alias(request.user, registered_model=model))
    return {}


def latest_versions(request, p: Params) -> dict:
    model = _model(p)
    stages = [translate.stage_from_word(s, field="stages") for s in p.list("stages")]
    versions = selectors.latest_per_stage(models=[model], stages=stages).get(model.pk, [])
    return {"model_versions": [translate.model_version(v, request=request) for v in versions]}


# -- model versions ---------------------------------------------------------------------------------------


def version_create(request, p: Params) -> dict:
    model = _model(p)
    origin = sources.resolve(
        source=p.str("source"), run_id=p.str("run_id"), model_id=p.str("model_id"), user=request.user
    )
    version = services.version_register_from_drafts(
        registered_model=model,
        actor=request.user,
        files=origin.files,
        run=origin.run,
        logged_model=origin.logged_model,
        source=origin.source,
        description=p.str("description"),
        tags=p.tags(),
    )
    return {"model_version": _version_json(request, version)}


def version_get(request, p: Params) -> dict:
    return {"model_version": translate.model_version(_version(p), request=request)}


def version_update(request, p: Params) -> dict:
    version = _version(p)
    if p.raw("description") is not None:
        services.version_update(version=version, actor=request.user, description=p.str("description"))
    return {"model_version": _version_json(request, version)}


def version_delete(request, p: Params) -> dict:
    version = _version(p)
    rules.refuse(rules.never_deleted(what=f"Version {version.version} of '{version.registered_model.name}'"))
    return {}


def version_search(request, p: Params) -> dict:
    text = p.str("filter")
    order = p.list("order_by")
    max_results = p.int("max_results", default=MAX_VERSIONS_PAGE, minimum=1, maximum=MAX_VERSIONS_PAGE)
    qs = selectors.tracked_version_list().filter(filters.versions_where(text))
    default = ["-last_change", "registered_model__name", "-version"]
    qs = qs.order_by(*filters.ordering(order, columns=filters.VERSION_ORDER, default=default))
    versions, token = page(
        qs, max_results=max_results, token=p.str("page_token"), search=("versions", text, order)
    )
    answer: dict = {"model_versions": [translate.model_version(v, request=request) for v in versions]}
    if token:
        answer["next_page_token"] = token
    return answer


def version_set_tag(request, p: Params) -> dict:
    services.version_tag_set(
        version=_version(p), key=p.str("key", required=True), value=p.str("value"), actor=request.user
    )
    return {}


def version_delete_tag(request, p: Params) -> dict:
    services.version_tag_delete(version=_version(p), key=p.str("key", required=True), actor=request.user)
    return {}


def version_transition(request, p: Params) -> dict:
    """A stage move by the native rules; Production is refused with how to request it, and
    ``archive_existing_versions`` archives the others in the target stage in the same transaction."""
    version = _version(p)
    target = translate.stage_from_word(p.str("stage", required=True))
    archive = p.bool("archive_existing_versions")
    if target == Stage.PRODUCTION:
        rules.refuse(rules.promotion_needs_request(version=version))
    if archive and target not in (Stage.STAGING, Stage.PRODUCTION):
        raise InvalidInput(
            f"archive_existing_versions is only for moves to Staging or Production, not {translate.STAGE_WORDS[target]}.",
            field="archive_existing_versions",
        )
    if archive:
        services.version_transition_replacing(version=version, to=target, actor=request.user)
    elif Stage(version.stage) != target:
        services.version_transition(version=version, to=target, actor=request.user)
    else:
        # Already there: nothing to move, but the caller must be one who could have moved it.
        rules.refuse(rules.may_change_stages(request.user, registered_model=version.registered_model))
    return {"model_version": _version_json(request, version)}


def version_download_uri(request, p: Params) -> dict:
    version = _version(p)
    rules.refuse(rules.version_usable(version, to="be downloaded", field="version"))
    return {"artifact_uri": paths.uri(paths.version_root(version))}
