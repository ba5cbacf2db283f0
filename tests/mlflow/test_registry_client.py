"""``MlflowClient`` registry calls against the registry: models, versions, tags, aliases, stages, search and
paging, every error code the client acts on, and the governance rules holding through this door."""

from __future__ import annotations

import httpx
import pytest

from models_app import services
from models_app.choices import EventType, LedgerKind, Stage
from models_app.models import Event, LedgerEntry, ModelVersion, RegisteredModel, WebhookDelivery
from tests.mlflow.conftest import log_addn

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def error_of(call) -> tuple[str, str]:
    """(error code, message) of the MlflowException that ``call`` raises."""
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as caught:
        call()
    return caught.value.error_code, caught.value.message


@pytest.fixture(scope="module")
def logged(registry):
    """One run with one logged model, not registered: (run id, model id)."""
    import mlflow

    with pytest.MonkeyPatch.context() as patch:
        registry.use(patch, "publisher")
        mlflow.set_experiment("registry-client")
        with mlflow.start_run() as run:
            mlflow.log_metric("auc", 0.93)
            info, _ = log_addn(5)
    return run.info.run_id, info.model_id


@pytest.fixture(scope="module")
def churn(registry, logged):
    """``churn`` (team fraud-team) with three versions of the logged model, v3 in Production by approval."""
    from mlflow import MlflowClient

    run_id, model_id = logged
    with pytest.MonkeyPatch.context() as patch:
        registry.use(patch, "publisher")
        client = MlflowClient()
        client.create_registered_model("churn")
        for _ in range(3):
            client.create_model_version(
                "churn", source=f"models:/{model_id}", run_id=run_id, model_id=model_id
            )
    v3 = ModelVersion.objects.get(registered_model__name="churn", version=3)
    publisher, reviewer = registry.users["publisher"], registry.users["reviewer"]
    services.version_transition(version=v3, to=Stage.STAGING, actor=publisher)
    request = services.transition_request_create(version=v3, to=Stage.PRODUCTION, actor=publisher)
    services.transition_request_approve(transition_request=request, actor=reviewer)
    return "churn"


def stages(name: str) -> dict[int, str]:
    return dict(ModelVersion.objects.filter(registered_model__name=name).values_list("version", "stage"))


# -- models: ownership, card edits, what is refused ------------------------------------------------------


def test_the_team_tag_names_the_owning_team(as_user):
    client = as_user("two_teams")
    model = client.create_registered_model(
        "churn-a", tags={"team": "search-team", "tier": "gold"}, description="first"
    )
    assert (model.name, model.description, model.tags) == (
        "churn-a",
        "first",
        {"team": "search-team", "tier": "gold"},
    )
    assert isinstance(model.creation_timestamp, int)
    stored = RegisteredModel.objects.get(name="churn-a")
    assert (stored.team.name, stored.tags) == ("search-team", {"tier": "gold"})
    row = LedgerEntry.objects.get(registered_model=stored)
    assert (row.kind, row.actor_username) == (LedgerKind.MODEL_CREATED, "tess-two-teams")
    assert Event.objects.get(registered_model=stored).type == EventType.MODEL_CREATED


def test_without_a_team_tag_the_creators_only_team_owns_the_model(as_user):
    as_user("publisher").create_registered_model("churn-b")
    assert RegisteredModel.objects.get(name="churn-b").team.name == "fraud-team"


def test_a_model_without_a_clear_owner_is_refused_naming_the_team_tag(as_user):
    client = as_user("two_teams")
    code, message = error_of(lambda: client.create_registered_model("churn-c"))
    assert code == "INVALID_PARAMETER_VALUE"
    assert "'team' tag" in message and "fraud-team, search-team" in message
    code, message = error_of(lambda: client.create_registered_model("churn-c", tags={"team": "no-such-team"}))
    assert (code, "tags.team" in message) == ("INVALID_PARAMETER_VALUE", True)
    # Naming a team one does not belong to is the native rule's refusal.
    code, _ = error_of(
        lambda: as_user("outsider").create_registered_model("churn-c", tags={"team": "fraud-team"})
    )
    assert code == "PERMISSION_DENIED"
    assert not RegisteredModel.objects.filter(name="churn-c").exists()


def test_existing_and_missing_models_answer_the_codes_the_client_acts_on(as_user, churn):
    client = as_user("publisher")
    assert error_of(lambda: client.create_registered_model(churn))[0] == "RESOURCE_ALREADY_EXISTS"
    assert error_of(lambda: client.get_registered_model("nope"))[0] == "RESOURCE_DOES_NOT_EXIST"
    assert error_of(lambda: client.get_model_version(churn, "99"))[0] == "RESOURCE_DOES_NOT_EXIST"
    code, message = error_of(lambda: client.transition_model_version_stage(churn, "1", "Bogus"))
    assert code == "INVALID_PARAMETER_VALUE" and "None, Staging, Production, Archived" in message


def test_card_edits_are_ledger_rows_and_events(as_user):
    client = as_user("publisher")
    client.create_registered_model("churn-d", tags={"tier": "gold"})
    assert client.update_registered_model("churn-d", description="second").description == "second"
    client.set_registered_model_tag("churn-d", "stage", "beta")
    client.delete_registered_model_tag("churn-d", "tier")
    assert client.get_registered_model("churn-d").tags == {"stage": "beta", "team": "fraud-team"}
    model = RegisteredModel.objects.get(name="churn-d")
    kinds = list(
        LedgerEntry.objects.filter(registered_model=model).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == [LedgerKind.MODEL_CREATED] + [LedgerKind.MODEL_EDITED] * 3
    assert Event.objects.filter(registered_model=model, type=EventType.MODEL_UPDATED).count() == 3


def test_the_team_tag_changes_only_through_governance(as_user):
    as_user("publisher").create_registered_model("churn-e")
    code, _ = error_of(
        lambda: as_user("publisher").set_registered_model_tag("churn-e", "team", "search-team")
    )
    assert code == "PERMISSION_DENIED"
    code, _ = error_of(lambda: as_user("publisher").delete_registered_model_tag("churn-e", "team"))
    assert code == "INVALID_PARAMETER_VALUE"
    assert RegisteredModel.objects.get(name="churn-e").team.name == "fraud-team"
    as_user("governance").set_registered_model_tag("churn-e", "team", "search-team")
    model = RegisteredModel.objects.get(name="churn-e")
    assert model.team.name == "search-team"
    assert LedgerEntry.objects.filter(registered_model=model, kind=LedgerKind.MODEL_CHANGED).count() == 1


def test_deletes_and_renames_are_refused_and_change_nothing(as_user, churn):
    client = as_user("publisher")
    before = LedgerEntry.objects.count()
    code, message = error_of(lambda: client.delete_registered_model(churn))
    assert code == "PERMISSION_DENIED" and "ledger" in message and "Archive" in message
    assert error_of(lambda: client.delete_model_version(churn, "1"))[0] == "PERMISSION_DENIED"
    code, message = error_of(lambda: client.rename_registered_model(churn, "churn-renamed"))
    assert code == "PERMISSION_DENIED" and "renamed" in message
    assert ModelVersion.objects.filter(registered_model__name=churn).count() == 3
    assert not RegisteredModel.objects.filter(name="churn-renamed").exists()
    assert LedgerEntry.objects.count() == before


# -- versions, tags and aliases ----------------------------------------------------------------------------


def test_a_version_registered_with_the_client_carries_its_tags_run_and_status(as_user, logged):
    run_id, model_id = logged
    client = as_user("publisher")
    client.create_registered_model("churn-f")
    version = client.create_model_version(
        "churn-f",
        source=f"models:/{model_id}",
        run_id=run_id,
        tags={"k": "v"},
        description="v1",
        model_id=model_id,
    )
    assert (version.version, version.status, version.current_stage) == ("1", "READY", "None")
    assert (version.run_id, version.tags, version.description) == (run_id, {"k": "v"}, "v1")
    assert version.source == f"models:/{model_id}"
    from_runs_uri = client.create_model_version("churn-f", source=f"runs:/{run_id}/model", run_id=run_id)
    assert (from_runs_uri.version, from_runs_uri.run_id) == ("2", run_id)

    assert client.get_model_version("churn-f", 2).version == "2"
    assert client.update_model_version("churn-f", "1", description="v1 new").description == "v1 new"
    client.set_model_version_tag("churn-f", "1", "quality", "high")
    client.delete_model_version_tag("churn-f", "1", "k")
    stored = ModelVersion.objects.get(registered_model__name="churn-f", version=1)
    assert (stored.tags, stored.description, stored.metrics) == ({"quality": "high"}, "v1 new", {"auc": 0.93})
    kinds = list(LedgerEntry.objects.filter(version=stored).order_by("id").values_list("kind", flat=True))
    assert kinds == [LedgerKind.REGISTERED] + [LedgerKind.VERSION_EDITED] * 3
    assert Event.objects.filter(version=stored, type=EventType.VERSION_UPDATED).count() == 3


def test_a_source_outside_the_registry_is_refused(as_user, churn):
    before = ModelVersion.objects.count()
    code, message = error_of(
        lambda: as_user("publisher").create_model_version(churn, source="s3://bucket/elsewhere/model")
    )
    assert code == "INVALID_PARAMETER_VALUE" and "outside this registry" in message
    assert ModelVersion.objects.count() == before


def test_aliases_are_set_moved_read_and_removed(as_user, churn):
    client = as_user("publisher")
    client.set_registered_model_alias(churn, "champion", "1")
    client.set_registered_model_alias(churn, "challenger", "2")
    assert client.get_registered_model(churn).aliases == {"champion": "1", "challenger": "2"}
    client.set_registered_model_alias(churn, "champion", "2")
    found = client.get_model_version_by_alias(churn, "champion")
    assert (found.version, sorted(found.aliases)) == ("2", ["challenger", "champion"])
    assert client.get_model_version_by_alias(churn, "latest").version == "3"
    client.delete_registered_model_alias(churn, "challenger")
    assert (
        error_of(lambda: client.get_model_version_by_alias(churn, "challenger"))[0]
        == "INVALID_PARAMETER_VALUE"
    )
    rows = LedgerEntry.objects.filter(
        registered_model__name=churn, kind__in=[LedgerKind.ALIAS_SET, LedgerKind.ALIAS_REMOVED]
    )
    assert [(r.kind, r.alias) for r in rows.order_by("id")] == [
        (LedgerKind.ALIAS_SET, "champion"),
        (LedgerKind.ALIAS_SET, "challenger"),
        (LedgerKind.ALIAS_SET, "champion"),
        (LedgerKind.ALIAS_REMOVED, "challenger"),
    ]
    assert Event.objects.filter(registered_model__name=churn, type=EventType.ALIAS_MOVED).count() == 4


# -- stages: the native rules, and Production only by approval ----------------------------------------------


def test_production_through_mlflow_is_refused_with_how_to_request_it(as_user, churn):
    client = as_user("publisher")
    client.transition_model_version_stage(churn, "1", "staging")
    before = (stages(churn), LedgerEntry.objects.count(), Event.objects.count())
    for version in ("1", "2"):
        code, message = error_of(
            lambda v=version: client.transition_model_version_stage(churn, v, "Production")
        )
        assert code == "PERMISSION_DENIED"
        assert "POST /api/v1/transition-requests/" in message
        assert f"modelreg request {churn} {version} --to production" in message
    # Even a reviewer, and even archiving the others first, moves nothing into Production this way.
    code, _ = error_of(
        lambda: as_user("reviewer").transition_model_version_stage(
            churn, "1", "Production", archive_existing_versions=True
        )
    )
    assert code == "PERMISSION_DENIED"
    assert (stages(churn), LedgerEntry.objects.count(), Event.objects.count()) == before
    assert stages(churn)[3] == Stage.PRODUCTION


def test_archive_existing_versions_is_all_or_nothing_and_never_touches_production(as_user, churn, registry):
    """Staging v2 and archiving v1 with it needs both roles (the team's publisher stages, a reviewer
    archives); whoever lacks one changes nothing, and the Production version is never archived."""
    before = (stages(churn), LedgerEntry.objects.count())
    for persona, needed in (("publisher", "Reviewers"), ("reviewer", "Publishers")):
        code, message = error_of(
            lambda p=persona: as_user(p).transition_model_version_stage(
                churn, "2", "Staging", archive_existing_versions=True
            )
        )
        assert code == "PERMISSION_DENIED" and needed in message
        assert (stages(churn), LedgerEntry.objects.count()) == before

    subscription, _ = services.webhook_subscription_create(
        url="http://127.0.0.1:9/cd-hook",
        actor=registry.users["governance"],
        registered_model=RegisteredModel.objects.get(name=churn),
        event_types=[EventType.STAGE_CHANGED],
    )
    moved = as_user("lead").transition_model_version_stage(
        churn, "2", "Staging", archive_existing_versions=True
    )
    assert moved.current_stage == "Staging"
    # Each move is an event and a webhook delivery for the subscriber, like any other stage change.
    deliveries = WebhookDelivery.objects.filter(subscription=subscription).order_by("id")
    assert [(d.event.type, d.event.version.version) for d in deliveries] == [
        (EventType.STAGE_CHANGED, 1),
        (EventType.STAGE_CHANGED, 2),
    ]
    assert stages(churn) == {1: Stage.ARCHIVED, 2: Stage.STAGING, 3: Stage.PRODUCTION}
    rows = LedgerEntry.objects.filter(registered_model__name=churn).order_by("-id")[:2]
    assert [(r.version.version, r.from_stage, r.to_stage) for r in reversed(rows)] == [
        (1, Stage.STAGING, Stage.ARCHIVED),
        (2, Stage.NONE, Stage.STAGING),
    ]
    latest = as_user("reviewer").get_latest_versions(churn)
    assert sorted((v.current_stage, v.version) for v in latest) == [
        ("Archived", "1"),
        ("Production", "3"),
        ("Staging", "2"),
    ]


# -- search, filters and paging --------------------------------------------------------------------------


def test_model_search_understands_the_clients_filters(as_user, churn):
    client = as_user("reviewer")
    assert [m.name for m in client.search_registered_models(filter_string=f"name='{churn}'")] == [churn]
    assert churn in [m.name for m in client.search_registered_models(filter_string="name LIKE 'churn%'")]
    found = client.search_registered_models(filter_string=f"tags.team = 'fraud-team' AND name = '{churn}'")
    assert [m.name for m in found] == [churn]
    assert [m.name for m in client.search_registered_models(filter_string="tags.tier = 'gold'")] == [
        "churn-a"
    ]
    # The clause the client appends by itself matches models without the tag.
    everything = {m.name for m in client.search_registered_models()}
    assert {churn, "churn-a", "churn-b"} <= everything
    code, message = error_of(
        lambda: client.search_registered_models(filter_string="name = 'a' OR name = 'b'")
    )
    assert code == "INVALID_PARAMETER_VALUE" and "filter" in message


def test_version_search_understands_the_clients_filters(as_user, churn, logged):
    client = as_user("reviewer")
    run_id, _ = logged
    assert sorted(v.version for v in client.search_model_versions(f"name='{churn}'")) == ["1", "2", "3"]
    assert {v.name for v in client.search_model_versions(f"run_id='{run_id}'")} >= {churn, "churn-f"}
    tagged = client.search_model_versions("name='churn-f' AND tags.quality='high'")
    assert [(v.name, v.version) for v in tagged] == [("churn-f", "1")]
    assert {v.name for v in client.search_model_versions("name LIKE 'churn-%'")} == {"churn-f"}


def test_paging_walks_every_model_once(as_user, churn):
    client = as_user("reviewer")
    seen, token = [], None
    while True:
        page = client.search_registered_models(
            filter_string="name LIKE 'churn%'", max_results=2, order_by=["name ASC"], page_token=token
        )
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert seen == sorted(
        RegisteredModel.objects.filter(name__startswith="churn").values_list("name", flat=True)
    )

    first = client.search_model_versions(f"name='{churn}'", max_results=2, order_by=["version_number ASC"])
    assert [v.version for v in first] == ["1", "2"] and first.token
    rest = client.search_model_versions(
        f"name='{churn}'", max_results=2, order_by=["version_number ASC"], page_token=first.token
    )
    assert [v.version for v in rest] == ["3"] and not rest.token
    # A token is bound to its search, and a forged one is refused.
    code, _ = error_of(
        lambda: client.search_model_versions("name='churn-f'", max_results=2, page_token=first.token)
    )
    assert code == "INVALID_PARAMETER_VALUE"
    assert (
        error_of(lambda: client.search_registered_models(page_token="eyJvZmZzZXQiOiAxfQ=="))[0]
        == "INVALID_PARAMETER_VALUE"
    )


# -- who may do what -------------------------------------------------------------------------------------


def test_a_reviewer_token_is_refused_on_writes_and_nothing_is_written(as_user, churn, logged):
    import mlflow

    from models_app.models import Experiment, Run

    run_id, model_id = logged
    client = as_user("reviewer")
    tables = (RegisteredModel, ModelVersion, LedgerEntry, Event, Experiment, Run)
    before = [t.objects.count() for t in tables]
    assert error_of(lambda: client.create_registered_model("by-reviewer"))[0] == "PERMISSION_DENIED"
    assert (
        error_of(lambda: client.create_model_version(churn, source=f"models:/{model_id}"))[0]
        == "PERMISSION_DENIED"
    )
    assert error_of(lambda: client.set_registered_model_tag(churn, "k", "v"))[0] == "PERMISSION_DENIED"
    assert (
        error_of(lambda: client.update_model_version(churn, "1", description="x"))[0] == "PERMISSION_DENIED"
    )
    assert (
        error_of(lambda: client.transition_model_version_stage(churn, "2", "None"))[0] == "PERMISSION_DENIED"
    )
    assert error_of(lambda: mlflow.set_experiment("reviewer-experiment"))[0] == "PERMISSION_DENIED"
    assert error_of(lambda: client.log_param(run_id, "lr", "0.5"))[0] == "PERMISSION_DENIED"
    assert [t.objects.count() for t in tables] == before
    assert ModelVersion.objects.get(registered_model__name=churn, version=1).description == ""


def test_tokens_are_checked_before_anything_else(registry, monkeypatch, churn):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "mr_not-a-token")
    assert error_of(lambda: MlflowClient().get_registered_model(churn))[0] == "UNAUTHENTICATED"
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    assert error_of(lambda: MlflowClient().get_registered_model(churn))[0] == "UNAUTHENTICATED"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", registry.tokens["norole"])
    code, message = error_of(lambda: MlflowClient().get_registered_model(churn))
    assert code == "PERMISSION_DENIED" and "no registry role" in message


def test_an_endpoint_the_registry_does_not_serve_answers_endpoint_not_found(registry):
    headers = {"Authorization": f"Bearer {registry.tokens['publisher']}"}
    answer = httpx.get(f"{registry.url}/api/2.0/mlflow/traces/search", headers=headers)
    assert (answer.status_code, answer.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    answer = httpx.get(f"{registry.url}/api/2.0/mlflow/registered-models/create", headers=headers)
    assert (answer.status_code, answer.json()["error_code"]) == (405, "ENDPOINT_NOT_FOUND")
