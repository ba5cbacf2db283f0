"""Leaving Production and moving a protected alias through the API: refused as direct moves with 409
``approval_required``, requested on ``/api/v1/transition-requests/`` and applied on approval under the
same four-eyes, quorum, gate and freeze rules as a promotion; and the policy document
``/api/v1/models/{name}/policy/`` (Governance writes, the team reads)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from models_app import services
from models_app.choices import EventType, LedgerKind, RequestStatus, Stage
from models_app.models import Event, LedgerEntry, ModelAlias, TransitionRequest
from tests.conftest import nothing_written, promote, register

MODEL = "/api/v1/models/fraud-detector/"
V = MODEL + "versions/{}/"
REQUESTS = "/api/v1/transition-requests/"


def error(response):
    body = response.json()
    assert body["type"] in ("client_error", "validation_error"), body
    return body["errors"][0]


@pytest.fixture
def live(registered_model, publisher, reviewer):
    """v1 in Production, v2 in Staging."""
    v1 = register(registered_model, publisher, metadata={"metrics": {"auc": 0.91}})
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher, metadata={"metrics": {"auc": 0.80}})
    services.version_transition(version=v2, to="staging", actor=publisher)
    return v1, v2


# -- leaving Production -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["reviewer", "publisher", "superuser"])
@pytest.mark.parametrize("to", ["archived", "staging", "none"])
def test_a_direct_move_of_the_production_version_is_409_approval_required(api, live, request, who, to):
    client = api(request.getfixturevalue(who))
    with nothing_written():
        response = client.post(V.format(1) + "transition/", {"to": to, "comment": "done"}, format="json")
    assert response.status_code == 409, response.content
    err = error(response)
    assert err["code"] == "approval_required"
    assert "POST /api/v1/transition-requests/" in err["detail"]
    assert '"to": "archived"' in err["detail"]


def test_a_retirement_needs_a_reason_naming_the_comment_field(api, live, publisher):
    publisher_client = api(publisher)
    with nothing_written():
        response = publisher_client.post(
            REQUESTS, {"model": "fraud-detector", "version": 1, "to": "archived"}, format="json"
        )
    assert response.status_code == 400
    assert (error(response)["code"], error(response)["attr"]) == ("invalid", "comment")


def test_a_retirement_is_requested_approved_by_another_reviewer_and_leaves_no_production(
    api, live, publisher, reviewer
):
    response = api(publisher).post(
        REQUESTS,
        {"model": "fraud-detector", "version": 1, "to": "archived", "comment": "Model drifted."},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["to"], body["kind"], body["version_stage"], body["status"]) == (
        "archived",
        "retirement",
        "production",
        "pending",
    )
    pk = body["id"]
    # The requester never decides, even with the Reviewer role.
    assert api(publisher).post(f"{REQUESTS}{pk}/approve/", {}, format="json").status_code == 403

    approved = api(reviewer).post(f"{REQUESTS}{pk}/approve/", {"comment": "agreed"}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    live[0].refresh_from_db()
    assert live[0].stage == Stage.ARCHIVED
    assert api(publisher).get(MODEL).json()["production_version"] is None

    row = LedgerEntry.objects.filter(version=live[0], kind=LedgerKind.APPROVED).latest("id")
    assert (row.from_stage, row.to_stage, row.transition_request_id) == ("production", "archived", pk)
    kinds = list(
        LedgerEntry.objects.filter(transition_request_id=pk).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["requested", "approval", "approved"]
    event = Event.objects.filter(type=EventType.STAGE_CHANGED, version=live[0]).latest("sequence")
    assert (event.payload["from_stage"], event.payload["to_stage"]) == ("production", "archived")
    history = api(publisher).get(MODEL + "history/", {"at": timezone.now().isoformat()}).json()
    assert (history["stages"]["production"], history["stages"]["archived"]) == ([], [1])


def test_a_retirement_waits_for_the_quorum_and_the_freeze_window(
    api, live, publisher, reviewer, reviewer2, governance
):
    services.registered_model_update(
        registered_model=live[0].registered_model, actor=governance, required_approvals=2
    )
    req = services.transition_request_create(
        version=live[0], to="archived", actor=publisher, comment="Drift."
    )
    api(reviewer).post(f"{REQUESTS}{req.pk}/approve/", {}, format="json")
    live[0].refresh_from_db()
    assert live[0].stage == Stage.PRODUCTION  # one of two approvals

    now = timezone.now()
    services.promotion_policy_set(
        registered_model=live[0].registered_model,
        actor=governance,
        freeze_windows=[
            {
                "start": (now - timedelta(hours=1)).isoformat(),
                "end": (now + timedelta(hours=1)).isoformat(),
                "reason": "peak",
            }
        ],
    )
    reviewer2_client = api(reviewer2)
    with nothing_written():
        frozen = reviewer2_client.post(f"{REQUESTS}{req.pk}/approve/", {}, format="json")
    assert frozen.status_code == 409
    assert error(frozen)["code"] == "freeze_window"
    services.promotion_policy_set(
        registered_model=live[0].registered_model, actor=governance, freeze_windows=[]
    )
    assert api(reviewer2).post(f"{REQUESTS}{req.pk}/approve/", {}, format="json").status_code == 200
    live[0].refresh_from_db()
    assert live[0].stage == Stage.ARCHIVED


def test_metric_gates_do_not_hold_back_a_retirement(api, live, publisher, reviewer, governance):
    services.promotion_policy_set(
        registered_model=live[0].registered_model,
        actor=governance,
        metric_gates=[{"metric": "auc", "op": ">=", "value": 0.99}],
    )
    req = services.transition_request_create(
        version=live[0], to="archived", actor=publisher, comment="Drift."
    )
    assert api(reviewer).post(f"{REQUESTS}{req.pk}/approve/", {}, format="json").status_code == 200
    live[0].refresh_from_db()
    assert live[0].stage == Stage.ARCHIVED


def test_promoting_another_version_still_archives_the_old_one_and_closes_its_retirement(
    api, live, publisher, reviewer
):
    retire = services.transition_request_create(
        version=live[0], to="archived", actor=publisher, comment="Old."
    )
    promotion = services.transition_request_create(version=live[1], to="production", actor=publisher)
    assert api(reviewer).post(f"{REQUESTS}{promotion.pk}/approve/", {}, format="json").status_code == 200
    for v in live:
        v.refresh_from_db()
    assert (live[0].stage, live[1].stage) == (Stage.ARCHIVED, Stage.PRODUCTION)
    retire.refresh_from_db()
    assert retire.status == RequestStatus.CANCELLED
    assert LedgerEntry.objects.filter(version=live[0], kind=LedgerKind.AUTOMATIC).exists()


def test_a_retirement_of_a_version_not_in_production_is_refused(api, live, publisher):
    publisher_client = api(publisher)
    with nothing_written():
        response = publisher_client.post(
            REQUESTS,
            {"model": "fraud-detector", "version": 2, "to": "archived", "comment": "x"},
            format="json",
        )
    assert response.status_code == 400
    assert error(response)["attr"] == "to"


# -- protected aliases -----------------------------------------------------------------------------------


@pytest.fixture
def protected(api, live, governance, publisher):
    """@champion on v1, protected by the policy; @candidate unprotected."""
    services.alias_set(
        registered_model=live[0].registered_model, alias="champion", version_number=1, actor=publisher
    )
    response = api(governance).put(MODEL + "policy/", {"protected_aliases": ["champion"]}, format="json")
    assert response.status_code == 200, response.content
    return live


def test_moving_or_removing_a_protected_alias_is_409_approval_required(
    api, protected, publisher, reviewer, governance
):
    for user in (publisher, reviewer):
        user_client = api(user)
        with nothing_written():
            moved = user_client.put(MODEL + "aliases/champion/", {"version": 2}, format="json")
            removed = user_client.delete(MODEL + "aliases/champion/")
        assert (moved.status_code, removed.status_code) == (409, 409)
        assert error(moved)["code"] == error(removed)["code"] == "approval_required"
        assert '"to": "@champion"' in error(moved)["detail"]
        assert "PUT /api/v1/models/fraud-detector/policy/" in error(removed)["detail"]
    # A protected alias that is not set yet is not set directly either.
    services.promotion_policy_set(
        registered_model=protected[0].registered_model,
        actor=governance,
        protected_aliases=["champion", "shadow"],
    )
    publisher_client = api(publisher)
    with nothing_written():
        unset = publisher_client.put(MODEL + "aliases/shadow/", {"version": 2}, format="json")
    assert (unset.status_code, error(unset)["code"]) == (409, "approval_required")


def test_unprotected_aliases_keep_compare_and_set(api, protected, publisher):
    client = api(publisher)
    assert (
        client.put(
            MODEL + "aliases/candidate/", {"version": 2, "expected_version": None}, format="json"
        ).status_code
        == 200
    )
    stale = client.put(MODEL + "aliases/candidate/", {"version": 1, "expected_version": 1}, format="json")
    assert (stale.status_code, error(stale)["code"]) == (409, "stale_state")
    assert client.delete(MODEL + "aliases/candidate/").status_code == 204


def test_a_protected_alias_moves_on_approval(api, protected, publisher, reviewer):
    response = api(publisher).post(
        REQUESTS,
        {"model": "fraud-detector", "version": 2, "to": "@champion", "comment": "new champ"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["to"], body["kind"]) == ("@champion", "alias")
    assert api(publisher).post(f"{REQUESTS}{body['id']}/approve/", {}, format="json").status_code == 403
    assert ModelAlias.objects.get(name="champion").version == protected[0]
    assert api(reviewer).post(f"{REQUESTS}{body['id']}/approve/", {}, format="json").status_code == 200
    assert ModelAlias.objects.get(name="champion").version == protected[1]
    row = LedgerEntry.objects.filter(kind=LedgerKind.ALIAS_SET, alias="champion").latest("id")
    assert (row.details["from_version"], row.details["to_version"], row.transition_request_id) == (
        1,
        2,
        body["id"],
    )
    event = Event.objects.filter(type=EventType.ALIAS_MOVED).latest("sequence")
    assert event.payload["alias"] == "champion"


def test_alias_requests_follow_the_gates_and_name_the_to_field(api, protected, publisher, governance):
    services.promotion_policy_set(
        registered_model=protected[0].registered_model,
        actor=governance,
        metric_gates=[{"metric": "auc", "op": ">=", "value": 0.9}],
    )
    client = api(publisher)
    with nothing_written():
        gated = client.post(
            REQUESTS, {"model": "fraud-detector", "version": 2, "to": "@champion"}, format="json"
        )
        unprotected = client.post(
            REQUESTS, {"model": "fraud-detector", "version": 1, "to": "@candidate"}, format="json"
        )
        bad = client.post(
            REQUESTS, {"model": "fraud-detector", "version": 1, "to": "@Not Valid"}, format="json"
        )
        stage = client.post(
            REQUESTS, {"model": "fraud-detector", "version": 1, "to": "sideways"}, format="json"
        )
    assert (gated.status_code, error(gated)["code"]) == (409, "policy_gate_failed")
    assert (unprotected.status_code, error(unprotected)["attr"]) == (400, "to")
    assert (bad.status_code, error(bad)["attr"]) == (400, "to")
    assert (stage.status_code, error(stage)["attr"]) == (400, "to")
    with nothing_written():
        there = client.post(
            REQUESTS, {"model": "fraud-detector", "version": 1, "to": "@champion"}, format="json"
        )
    assert (there.status_code, error(there)["attr"]) == (400, "version")
    assert "already points at v1" in error(there)["detail"]
    services.promotion_policy_set(
        registered_model=protected[0].registered_model, actor=governance, metric_gates=[]
    )
    ok = client.post(REQUESTS, {"model": "fraud-detector", "version": 2, "to": "@champion"}, format="json")
    assert ok.status_code == 201
    dup = client.post(REQUESTS, {"model": "fraud-detector", "version": 2, "to": "@champion"}, format="json")
    assert (dup.status_code, error(dup)["code"]) == (409, "duplicate_request")
    assert TransitionRequest.objects.filter(target_alias="champion").count() == 1


# -- policy as code ----------------------------------------------------------------------------------------


def test_the_policy_is_read_by_the_team_and_governance_only(
    api, registered_model, publisher, governance, outsider, reviewer
):
    for user in (publisher, governance):
        response = api(user).get(MODEL + "policy/")
        assert response.status_code == 200, response.content
        assert set(response.json()) >= {
            "required_approvals",
            "metric_gates",
            "group_approvals",
            "freeze_windows",
            "protected_aliases",
            "retention",
        }
    for user in (outsider, reviewer):
        assert api(user).get(MODEL + "policy/").status_code == 403
    assert api(publisher).get("/api/v1/models/nope/policy/").status_code == 404


def test_governance_puts_the_policy_and_each_change_is_a_ledger_row(
    api, registered_model, governance, publisher
):
    document = {
        "required_approvals": 2,
        "metric_gates": [{"metric": "auc", "op": ">=", "value": 0.9}],
        "group_approvals": {"Governance": 1},
        "freeze_windows": [
            {"start": "2030-12-20T00:00:00Z", "end": "2031-01-02T00:00:00Z", "reason": "holidays"}
        ],
        "protected_aliases": ["champion"],
        "retention": {"keep_archived": 3, "archived_for_days": 30},
        "comment": "Policy from the repo.",
    }
    response = api(governance).put(MODEL + "policy/", document, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["required_approvals"] == 2
    assert body["protected_aliases"] == ["champion"]
    assert body["retention"] == {"keep_archived": 3, "archived_for_days": 30}
    assert body["group_approvals"] == {"Governance": 1}
    row = LedgerEntry.objects.filter(kind=LedgerKind.POLICY_CHANGED).get()
    assert row.actor == governance and row.comment == "Policy from the repo."
    assert set(row.details["changed"]) == {
        "required_approvals",
        "metric_gates",
        "group_approvals",
        "freeze_windows",
        "protected_aliases",
        "retention",
    }
    # The same document again changes nothing and writes nothing.
    governance_client = api(governance)
    with nothing_written():
        assert governance_client.put(MODEL + "policy/", document, format="json").status_code == 200
    # Fields left out keep their value.
    assert api(governance).put(MODEL + "policy/", {"retention": {}}, format="json").json()[
        "protected_aliases"
    ] == ["champion"]
    assert api(governance).get(MODEL + "policy/").json()["retention"] == {}
    publisher_client = api(publisher)
    with nothing_written():
        assert (
            publisher_client.put(MODEL + "policy/", {"protected_aliases": []}, format="json").status_code
            == 403
        )


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"required_approvals": 0}, "required_approvals"),
        ({"required_approvals": True}, "required_approvals"),
        ({"metric_gates": [{"metric": "auc", "op": "~", "value": 1}]}, "metric_gates[0].op"),
        ({"group_approvals": {"No Such Group": 1}}, "group_approvals.No Such Group"),
        (
            {"freeze_windows": [{"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}]},
            "freeze_windows[0].end",
        ),
        ({"protected_aliases": ["Champion"]}, "protected_aliases[0]"),
        ({"retention": {"keep_archived": -1, "archived_for_days": 3}}, "retention.keep_archived"),
        ({"retention": "forever"}, "retention"),
        ({"approvals": 2}, "approvals"),
    ],
)
def test_a_bad_policy_field_is_400_naming_it_and_nothing_is_written(
    api, registered_model, governance, document, field
):
    governance_client = api(governance)
    with nothing_written():
        response = governance_client.put(MODEL + "policy/", document, format="json")
    assert response.status_code == 400, response.content
    assert error(response)["attr"] == field


def test_the_policy_endpoint_is_in_the_openapi_schema(api, publisher):
    schema = api(publisher).get("/api/v1/schema/?format=json").json()
    path = schema["paths"]["/api/v1/models/{name}/policy/"]
    assert set(path) >= {"get", "put"}
