"""Models, transitions, requests, rollback, aliases, audit and history over HTTP."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.models import LedgerEntry, ModelAlias, ModelVersion, RegisteredModel, TransitionRequest
from tests.conftest import nothing_written, promote, register


def test_it_creates_lists_and_edits_models(api, publisher, governance, team):
    client = api(publisher)
    response = client.post(
        "/api/v1/models/",
        {"name": "churn", "description": "Who leaves.", "tags": {"area": "crm"}, "team": team.name},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["team"] == team.name
    assert response.json()["required_approvals"] == 1
    assert response["Location"].endswith("/api/v1/models/churn/")
    with nothing_written():
        duplicate = client.post("/api/v1/models/", {"name": "churn", "team": team.name}, format="json")
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0] == {
        "code": "model_exists",
        "detail": "A model named 'churn' already exists.",
        "attr": "name",
    }
    bad = client.post("/api/v1/models/", {"name": "-bad name", "team": "no-such-team"}, format="json")
    assert bad.status_code == 400
    assert {e["attr"] for e in bad.json()["errors"]} == {"team"}
    bad_name = client.post("/api/v1/models/", {"name": "Bad Name!", "team": team.name}, format="json")
    assert bad_name.json()["errors"][0]["attr"] == "name"

    assert client.get("/api/v1/models/CHURN/").json()["name"] == "churn"
    edited = client.patch("/api/v1/models/churn/", {"description": "Who churns."}, format="json")
    assert edited.json()["description"] == "Who churns."
    with nothing_written():
        refused = client.patch("/api/v1/models/churn/", {"required_approvals": 2}, format="json")
    assert refused.status_code == 403
    policy = api(governance).patch("/api/v1/models/churn/", {"required_approvals": 2}, format="json")
    assert policy.status_code == 200
    assert RegisteredModel.objects.get(name="churn").required_approvals == 2
    assert LedgerEntry.objects.filter(kind=LedgerKind.MODEL_CHANGED).count() == 1


def test_it_filters_models(api, publisher, reviewer, team, registered_model):
    from models_app import services

    services.registered_model_create(name="churn", team=team, actor=publisher, tags={"area": "crm"})
    promote(register(registered_model, publisher), publisher, reviewer)
    client = api(publisher)

    def names(query):
        response = client.get("/api/v1/models/" + query)
        assert response.status_code == 200, response.json()
        return [m["name"] for m in response.json()["results"]]

    assert names("") == ["churn", "fraud-detector"]
    assert names("?name=fraud") == ["fraud-detector"]
    assert names("?tag=area:crm") == ["churn"]
    assert names("?tag=area") == ["churn"]
    assert names(f"?team={team.name}") == ["churn", "fraud-detector"]
    assert names("?stage=production") == ["fraud-detector"]
    listed = client.get("/api/v1/models/?name=fraud").json()["results"][0]
    assert listed["production_version"] == 1
    assert listed["latest_version"] == 1


def test_a_direct_move_to_production_needs_approval(api, publisher, registered_model):
    register(registered_model, publisher)
    client = api(publisher)
    staged = client.post(
        "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "staging"}, format="json"
    )
    assert staged.status_code == 200
    assert staged.json()["stage"] == "staging"
    with nothing_written():
        refused = client.post(
            "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "production"}, format="json"
        )
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "approval_required"
    illegal = client.post(
        "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "bogus"}, format="json"
    )
    assert illegal.status_code == 400
    assert illegal.json()["errors"][0]["attr"] == "to"
    assert ModelVersion.objects.get().stage == Stage.STAGING


def test_an_illegal_move_is_409_naming_both_stages(api, publisher, reviewer, registered_model):
    register(registered_model, publisher)
    api(reviewer).post(
        "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "archived"}, format="json"
    )
    client = api(publisher)
    with nothing_written():
        response = client.post(
            "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "none"}, format="json"
        )
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "invalid_transition"
    assert "'archived'" in response.json()["errors"][0]["detail"]
    assert "'none'" in response.json()["errors"][0]["detail"]


def test_requests_are_created_filtered_decided_and_cancelled(
    api, publisher, publisher2, reviewer, registered_model
):
    for _ in range(3):
        version = register(registered_model, publisher)
        api(publisher).post(
            f"/api/v1/models/fraud-detector/versions/{version.version}/transition/",
            {"to": "staging"},
            format="json",
        )
    client = api(publisher)
    ids = []
    for number in (1, 2, 3):
        response = client.post(
            "/api/v1/transition-requests/",
            {
                "model": "fraud-detector",
                "version": number,
                "to": "production",
                "comment": f"v{number} is good",
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "pending"
        ids.append(response.json()["id"])
    with nothing_written():
        duplicate = client.post(
            "/api/v1/transition-requests/", {"model": "fraud-detector", "version": 1}, format="json"
        )
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["code"] == "duplicate_request"
    missing = client.post("/api/v1/transition-requests/", {"model": "nope", "version": 1}, format="json")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["attr"] == "model"
    missing_version = client.post(
        "/api/v1/transition-requests/", {"model": "fraud-detector", "version": 9}, format="json"
    )
    assert missing_version.json()["errors"][0]["attr"] == "version"

    reviewer_client = api(reviewer)
    assert (
        reviewer_client.post(
            f"/api/v1/transition-requests/{ids[0]}/reject/", {"comment": "no"}, format="json"
        ).json()["status"]
        == "rejected"
    )
    assert (
        client.post(f"/api/v1/transition-requests/{ids[1]}/cancel/", {}, format="json").json()["status"]
        == "cancelled"
    )
    other_publisher = api(publisher2)
    with nothing_written():
        not_theirs = other_publisher.post(f"/api/v1/transition-requests/{ids[2]}/cancel/", {}, format="json")
    assert not_theirs.status_code == 403
    approved = reviewer_client.post(
        f"/api/v1/transition-requests/{ids[2]}/approve/", {"comment": "ok"}, format="json"
    )
    assert approved.json()["status"] == "approved"
    assert approved.json()["version_stage"] == "production"
    assert approved.json()["approvals"][0]["reviewer"] == reviewer.username
    with nothing_written():
        again = reviewer_client.post(f"/api/v1/transition-requests/{ids[2]}/approve/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "already_decided"

    def listed(query):
        return [r["id"] for r in client.get("/api/v1/transition-requests/" + query).json()["results"]]

    assert listed("") == list(reversed(ids))
    assert listed("?status=pending") == []
    assert listed("?status=approved") == [ids[2]]
    assert listed("?model=fraud-detector&requested_by=" + publisher.username) == list(reversed(ids))
    assert listed("?model=other") == []
    assert client.get(f"/api/v1/transition-requests/{ids[0]}/").json()["comment"] == "v1 is good"
    assert client.get("/api/v1/transition-requests/99999/").status_code == 404


def test_two_required_approvals_need_two_reviewers(api, publisher, reviewer, reviewer2, registered_model):
    RegisteredModel.objects.filter(pk=registered_model.pk).update(required_approvals=2)
    register(registered_model, publisher)
    client = api(publisher)
    client.post("/api/v1/models/fraud-detector/versions/1/transition/", {"to": "staging"}, format="json")
    req = client.post(
        "/api/v1/transition-requests/", {"model": "fraud-detector", "version": 1}, format="json"
    ).json()
    first = api(reviewer).post(f"/api/v1/transition-requests/{req['id']}/approve/", {}, format="json").json()
    assert (first["status"], first["version_stage"]) == ("pending", "staging")
    second = (
        api(reviewer2).post(f"/api/v1/transition-requests/{req['id']}/approve/", {}, format="json").json()
    )
    assert (second["status"], second["version_stage"]) == ("approved", "production")


def test_rollback_returns_a_former_production_version(api, publisher, reviewer, registered_model):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer)
    client = api(reviewer)
    no_reason = client.post(
        "/api/v1/models/fraud-detector/rollback/", {"version": 1, "reason": " "}, format="json"
    )
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"][0]["attr"] == "reason"
    response = client.post(
        "/api/v1/models/fraud-detector/rollback/", {"version": 1, "reason": "v2 drifts"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == "production"
    v2.refresh_from_db()
    assert v2.stage == Stage.ARCHIVED
    never = register(registered_model, publisher)
    with nothing_written():
        refused = client.post(
            "/api/v1/models/fraud-detector/rollback/",
            {"version": never.version, "reason": "x"},
            format="json",
        )
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "never_in_production"
    assert (
        client.post(
            "/api/v1/models/fraud-detector/rollback/", {"version": 42, "reason": "x"}, format="json"
        ).status_code
        == 404
    )


def test_aliases_compare_and_set(api, publisher, reviewer, registered_model):
    register(registered_model, publisher)
    register(registered_model, publisher)
    client = api(publisher)
    url = "/api/v1/models/fraud-detector/aliases/champion/"
    created = client.put(url, {"version": 1, "expected_version": None}, format="json")
    assert created.status_code == 200, created.json()
    assert created.json() == {
        **created.json(),
        "alias": "champion",
        "version": 1,
        "updated_by": publisher.username,
    }
    reviewer_client = api(reviewer)
    with nothing_written():
        conflict = reviewer_client.put(url, {"version": 2, "expected_version": 2}, format="json")
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["code"] == "stale_state"
    assert conflict.json()["errors"][0]["attr"] == "expected_version"
    assert ModelAlias.objects.get().version.version == 1
    moved = reviewer_client.put(url, {"version": 2, "expected_version": 1}, format="json")
    assert moved.json()["version"] == 2
    assert client.get("/api/v1/models/fraud-detector/").json()["aliases"] == {"champion": 2}
    assert client.get("/api/v1/models/fraud-detector/aliases/").json()[0]["alias"] == "champion"
    assert client.get(url).json()["version"] == 2
    with nothing_written():
        assert client.delete(url + "?expected_version=1").status_code == 409
    assert client.delete(url, {"expected_version": 2}, format="json").status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    assert (
        client.put("/api/v1/models/fraud-detector/aliases/production/", {"version": 1}, format="json").json()[
            "errors"
        ][0]["attr"]
        == "alias"
    )
    kinds = list(
        LedgerEntry.objects.filter(kind__in=[LedgerKind.ALIAS_SET, LedgerKind.ALIAS_REMOVED])
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == [LedgerKind.ALIAS_SET, LedgerKind.ALIAS_SET, LedgerKind.ALIAS_REMOVED]


def test_the_audit_list_filters_newest_first(api, publisher, reviewer, registered_model):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    client = api(publisher)
    rows = client.get("/api/v1/audit/").json()["results"]
    assert [r["kind"] for r in rows] == [
        "approved",
        "approval",
        "requested",
        "direct",
        "registered",
        "model_created",
    ]
    assert rows[0]["actor"] == reviewer.username
    assert rows[0]["to_stage"] == "production"
    assert rows[0]["model"] == "fraud-detector"
    assert rows[0]["prev_hash"] == rows[1]["row_hash"]

    def kinds(query):
        response = client.get("/api/v1/audit/" + query)
        assert response.status_code == 200, response.json()
        return [r["kind"] for r in response.json()["results"]]

    assert kinds(f"?actor={reviewer.username}") == ["approved", "approval"]
    assert kinds("?kind=direct") == ["direct"]
    assert kinds("?model=fraud-detector&version=1&kind=registered") == ["registered"]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert kinds("?since=" + future.replace("+", "%2B")) == []
    assert len(kinds("?until=" + future.replace("+", "%2B"))) == 6
    assert client.get("/api/v1/audit/?kind=bogus").status_code == 400


def test_history_tells_who_held_each_stage_at_a_past_moment(api, publisher, reviewer, registered_model):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    api(publisher).put("/api/v1/models/fraud-detector/aliases/champion/", {"version": 1}, format="json")
    between = timezone.now()
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer)
    client = api(publisher)
    past = client.get("/api/v1/models/fraud-detector/history/", {"at": between.isoformat()})
    assert past.status_code == 200, past.json()
    assert past.json()["stages"] == {"production": [1], "staging": [], "archived": [], "none": []}
    assert past.json()["aliases"] == {"champion": 1}
    assert past.json()["production_entry"]["kind"] == "approved"
    assert [a["actor"] for a in past.json()["production_approvals"]] == [reviewer.username]
    now = client.get("/api/v1/models/fraud-detector/history/", {"at": timezone.now().isoformat()}).json()
    assert now["stages"]["production"] == [2]
    assert now["stages"]["archived"] == [1]
    before = client.get("/api/v1/models/fraud-detector/history/", {"at": "2000-01-01T00:00:00Z"}).json()
    assert before["stages"]["production"] == []
    assert before["production_entry"] is None
    bad = client.get("/api/v1/models/fraud-detector/history/", {"at": "yesterday"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"] == "at"
    assert client.get("/api/v1/models/fraud-detector/history/").json()["errors"][0]["attr"] == "at"
    assert TransitionRequest.objects.filter(status=RequestStatus.APPROVED).count() == 2
