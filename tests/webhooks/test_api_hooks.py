"""The events feed, webhook subscriptions with deliveries and replay, and deployment reports over HTTP."""

from __future__ import annotations

import pytest

from models_app import services
from models_app.choices import DeliveryState, EventType
from models_app.models import Event, WebhookDelivery, WebhookSubscription
from models_app.pipeline.delivery import deliver_due
from tests.api.conftest import token_client
from tests.conftest import nothing_written, promote, register


def errors(response) -> list[tuple[str, str]]:
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


@pytest.fixture
def story(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    return v1


# -- events feed ------------------------------------------------------------------------------------


def test_the_feed_pages_through_events_in_order_with_a_cursor(story, reviewer, reviewer2):
    client = token_client(reviewer)
    expected = [str(e.id) for e in Event.objects.order_by("sequence")]
    seen, cursor = [], "0"
    for _ in range(10):
        body = client.get("/api/v1/events/", {"after": cursor, "limit": 2}).json()
        seen += [e["id"] for e in body["results"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    assert seen == expected
    body = client.get("/api/v1/events/", {"after": cursor}).json()
    assert body == {"results": [], "next_cursor": cursor, "has_more": False}

    # The Production version leaves it by an approved retirement request.
    retire = services.transition_request_create(version=story, to="archived", actor=reviewer, comment="old")
    services.transition_request_approve(transition_request=retire, actor=reviewer2)
    body = client.get("/api/v1/events/", {"after": cursor}).json()
    assert [(e["type"], e["data"].get("to_stage")) for e in body["results"]] == [
        (EventType.TRANSITION_REQUESTED, None),
        (EventType.TRANSITION_APPROVED, None),
        (EventType.STAGE_CHANGED, "archived"),
    ]
    first = client.get("/api/v1/events/", {"after": "0", "limit": 1}).json()["results"][0]
    assert set(first) == {
        "id",
        "type",
        "timestamp",
        "cursor",
        "actor",
        "model",
        "version",
        "request_id",
        "data",
    }


def test_the_feed_filters_and_starts_at_latest(story, reviewer, publisher, registered_model):
    client = token_client(reviewer)
    latest = client.get("/api/v1/events/", {"after": "latest"}).json()
    assert latest["results"] == []
    assert latest["next_cursor"] == str(Event.objects.order_by("-sequence").first().sequence)
    staged = client.get(
        "/api/v1/events/", {"type": "stage.changed,stage.rolled_back", "model": "fraud-detector"}
    )
    assert [e["data"]["to_stage"] for e in staged.json()["results"]] == ["staging", "production"]
    register(registered_model, publisher)
    after = client.get("/api/v1/events/", {"after": latest["next_cursor"]}).json()["results"]
    assert [e["type"] for e in after] == [EventType.VERSION_REGISTERED]


@pytest.mark.parametrize(
    ("params", "attr"),
    [
        ({"after": "x"}, "after"),
        ({"after": "-1"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"type": "nope"}, "type"),
    ],
)
def test_the_feed_refuses_bad_parameters_naming_them(reviewer, params, attr):
    response = token_client(reviewer).get("/api/v1/events/", params)
    assert response.status_code == 400
    assert errors(response)[0][0] == attr


def test_the_feed_needs_a_registry_role(db, norole):
    anonymous, no_role = token_client(None), token_client(norole)
    with nothing_written():
        assert anonymous.get("/api/v1/events/").status_code == 401
        assert no_role.get("/api/v1/events/").status_code == 403


# -- webhooks ---------------------------------------------------------------------------------------


def test_a_team_publisher_manages_a_subscription_for_its_model(receiver, story, publisher, registered_model):
    client = token_client(publisher)
    created = client.post(
        "/api/v1/webhooks/",
        {
            "url": receiver.url,
            "model": "fraud-detector",
            "event_types": ["stage.changed"],
            "description": "CD",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["model"] == "fraud-detector"
    assert body["event_types"] == ["stage.changed"]
    pk = body["id"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{pk}/").json()
    assert [s["id"] for s in client.get("/api/v1/webhooks/").json()["results"]] == [pk]

    patched = client.patch(f"/api/v1/webhooks/{pk}/", {"active": False}, format="json")
    assert patched.json()["active"] is False
    rotated = client.post(f"/api/v1/webhooks/{pk}/rotate-secret/", {"overlap_hours": 2}, format="json").json()
    assert rotated["secret"] != body["secret"]
    assert rotated["previous_secret_expires_at"]
    assert client.delete(f"/api/v1/webhooks/{pk}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


def test_subscription_permissions(receiver, registered_model, publisher, outsider, governance, reviewer):
    scoped = {"url": receiver.url, "model": "fraud-detector"}
    as_outsider, as_reviewer, as_publisher = (token_client(u) for u in (outsider, reviewer, publisher))
    with nothing_written():
        response = as_outsider.post("/api/v1/webhooks/", scoped, format="json")
        assert response.status_code == 403
        assert as_reviewer.post("/api/v1/webhooks/", scoped, format="json").status_code == 403
        response = as_publisher.post("/api/v1/webhooks/", {"url": receiver.url}, format="json")
    assert response.status_code == 403
    assert "Governance" in response.json()["errors"][0]["detail"]
    everything = token_client(governance).post("/api/v1/webhooks/", {"url": receiver.url}, format="json")
    assert everything.status_code == 201
    mine = as_publisher.post("/api/v1/webhooks/", scoped, format="json").json()
    # The outsider neither sees nor reaches the fraud team's subscription.
    with nothing_written():
        assert as_outsider.get("/api/v1/webhooks/").json()["results"] == []
        assert as_outsider.get(f"/api/v1/webhooks/{mine['id']}/").status_code == 404
        assert as_outsider.delete(f"/api/v1/webhooks/{mine['id']}/").status_code == 404
    assert len(token_client(governance).get("/api/v1/webhooks/").json()["results"]) == 2


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"url": "http://169.254.169.254/latest"}, "url"),
        ({"url": "http://10.0.0.1/x"}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://example.com/x", "event_types": ["nope"]}, "event_types.0"),
        ({"url": "https://example.com/x", "model": "nope"}, "name"),
        ({"url": "https://example.com/x", "colour": "red"}, "colour"),
    ],
)
def test_bad_subscriptions_are_refused_naming_the_field(settings, governance, registered_model, body, attr):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = token_client(governance).post("/api/v1/webhooks/", body, format="json")
    assert response.status_code in (400, 404), response.json()
    assert errors(response)[0][0] == attr
    assert not WebhookSubscription.objects.exists()


def test_deliveries_show_the_attempt_log_and_a_failed_one_can_be_replayed(
    settings, receiver, registered_model, publisher
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    client = token_client(publisher)
    pk = client.post(
        "/api/v1/webhooks/", {"url": receiver.url, "model": "fraud-detector"}, format="json"
    ).json()["id"]
    receiver.answers.append(500)
    register(registered_model, publisher)
    deliver_due(worker="test")

    listed = client.get(f"/api/v1/webhooks/{pk}/deliveries/").json()["results"]
    assert len(listed) == 1
    delivery = listed[0]
    assert delivery["state"] == DeliveryState.FAILED
    assert delivery["event"]["type"] == EventType.VERSION_REGISTERED
    assert delivery["attempt_log"][0]["status_code"] == 500
    assert delivery["attempt_log"][0]["response_excerpt"] == "answer 500"
    assert client.get(f"/api/v1/webhooks/{pk}/deliveries/", {"state": "succeeded"}).json()["results"] == []

    replayed = client.post(f"/api/v1/webhooks/{pk}/deliveries/{delivery['id']}/replay/")
    assert replayed.status_code == 202
    assert replayed.json()["state"] == DeliveryState.PENDING
    deliver_due(worker="test")
    assert WebhookDelivery.objects.get(pk=delivery["id"]).state == DeliveryState.SUCCEEDED
    with nothing_written():
        again = client.post(f"/api/v1/webhooks/{pk}/deliveries/{delivery['id']}/replay/")
    assert again.status_code == 409
    assert client.post(f"/api/v1/webhooks/{pk}/deliveries/999/replay/").status_code == 404


# -- deployments ------------------------------------------------------------------------------------


def test_a_cd_pipeline_reports_deployments_and_representations_show_them(story, registered_model, publisher):
    client = token_client(publisher)
    url = "/api/v1/models/fraud-detector/versions/production/deployments/"
    started = client.post(url, {"environment": "prod-eu", "status": "started"}, format="json")
    assert started.status_code == 201, started.json()
    assert started.json()["version"] == 1
    done = client.post(
        url,
        {"environment": "prod-eu", "status": "succeeded", "url": "https://fraud.example.com"},
        format="json",
    )
    assert done.json()["status"] == "succeeded"
    v2 = register(registered_model, publisher)
    client.post(
        "/api/v1/models/fraud-detector/versions/2/deployments/",
        {"environment": "canary", "status": "failed"},
        format="json",
    )

    version = client.get("/api/v1/models/fraud-detector/versions/1/").json()
    assert [(d["environment"], d["status"], d["url"]) for d in version["deployments"]] == [
        ("prod-eu", "succeeded", "https://fraud.example.com")
    ]
    model = client.get("/api/v1/models/fraud-detector/").json()
    assert [(d["environment"], d["version"], d["status"]) for d in model["deployments"]] == [
        ("canary", 2, "failed"),
        ("prod-eu", 1, "succeeded"),
    ]
    listed = client.get("/api/v1/models/fraud-detector/versions/").json()["results"]
    assert {v["version"]: [d["environment"] for d in v["deployments"]] for v in listed} == {
        2: ["canary"],
        1: ["prod-eu"],
    }
    history = client.get(url).json()["results"]
    assert [d["status"] for d in history] == ["succeeded", "started"]
    assert Event.objects.filter(type=EventType.DEPLOYMENT_REPORTED).count() == 3
    assert v2.deployments.count() == 1


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"environment": "Prod EU", "status": "succeeded"}, "environment"),
        ({"environment": "prod", "status": "done"}, "status"),
        ({"environment": "prod", "status": "succeeded", "url": "javascript:alert(1)"}, "url"),
        ({"status": "succeeded"}, "environment"),
    ],
)
def test_bad_deployment_reports_are_refused_naming_the_field(story, publisher, body, attr):
    response = token_client(publisher).post(
        "/api/v1/models/fraud-detector/versions/1/deployments/", body, format="json"
    )
    assert response.status_code == 400
    assert errors(response)[0][0] == attr


def test_only_the_team_or_reviewers_report_deployments(story, outsider, reviewer):
    url = "/api/v1/models/fraud-detector/versions/1/deployments/"
    body = {"environment": "prod", "status": "succeeded"}
    as_outsider, as_reviewer, anonymous = (token_client(u) for u in (outsider, reviewer, None))
    with nothing_written():
        assert as_outsider.post(url, body, format="json").status_code == 403
    assert as_reviewer.post(url, body, format="json").status_code == 201
    with nothing_written():
        assert anonymous.post(url, body, format="json").status_code == 401
