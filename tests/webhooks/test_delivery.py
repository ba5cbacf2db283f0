"""Signed delivery to a real receiver on 127.0.0.1: retries, 410, attempt log, replay, secret rotation."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from models_app import services
from models_app.choices import DeliveryState, EventType
from models_app.models import Event, WebhookDelivery
from models_app.pipeline.delivery import backoff_delay, deliver_due, delivery_claim
from models_app.services import webhooks
from tests.conftest import register
from tests.webhooks.conftest import Receiver, free_port


def subscribe(user, url, **kwargs):
    return webhooks.webhook_subscription_create(url=url, actor=user, **kwargs)


def deliver_until(predicate, *, rounds: int = 40) -> None:
    """Run the worker until ``predicate()`` holds; bounded in rounds and time."""
    for _ in range(rounds):
        deliver_due(worker="test")
        if predicate():
            return
        time.sleep(0.03)
    raise AssertionError("the deliveries did not settle in time")


def test_it_delivers_signed_events_that_a_standard_verifier_accepts(receiver, registered_model, publisher):
    sub, secret = subscribe(publisher, receiver.url, registered_model=registered_model)
    v1 = register(registered_model, publisher)
    services.version_transition(version=v1, to="staging", actor=publisher)

    assert deliver_due(worker="test") == 2
    bodies = receiver.verify_all(secret)
    assert [b["type"] for b in bodies] == [EventType.VERSION_REGISTERED, EventType.STAGE_CHANGED]
    assert bodies[1]["model"] == "fraud-detector"
    assert bodies[1]["version"] == 1
    assert bodies[1]["data"]["to_stage"] == "staging"
    events = Event.objects.filter(registered_model=registered_model).exclude(type=EventType.MODEL_CREATED)
    assert receiver.ids() == [str(e.id) for e in events.order_by("sequence")]
    headers = receiver.requests[0][0]
    assert headers["webhook-signature"].startswith("v1,")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(receiver.requests[0][1], headers)

    delivery = WebhookDelivery.objects.filter(subscription=sub).order_by("id").first()
    assert delivery.state == DeliveryState.SUCCEEDED
    attempt = delivery.attempt_log.get()
    assert attempt.status_code == 200
    assert attempt.response_excerpt == "answer 200"
    assert attempt.target_ip == "127.0.0.1"
    assert attempt.duration_ms is not None


def test_it_filters_by_event_type_model_and_team(
    receiver, registered_model, publisher, governance, outsider, team, other_team
):
    subscribe(
        publisher, receiver.url, registered_model=registered_model, event_types=[EventType.STAGE_CHANGED]
    )
    subscribe(governance, receiver.url, team=other_team)
    subscribe(publisher, receiver.url, team=team, event_types=[EventType.VERSION_REGISTERED])
    other_model = services.registered_model_create(name="search-ranker", team=other_team, actor=outsider)
    v1 = register(registered_model, publisher)
    services.version_transition(version=v1, to="staging", actor=publisher)
    register(other_model, outsider)
    deliver_due(worker="test")
    received = sorted((json.loads(body)["model"], json.loads(body)["type"]) for _, body in receiver.requests)
    assert received == [
        ("fraud-detector", EventType.STAGE_CHANGED),
        ("fraud-detector", EventType.VERSION_REGISTERED),
        ("search-ranker", EventType.MODEL_CREATED),
        ("search-ranker", EventType.VERSION_REGISTERED),
    ]


def test_it_retries_a_receiver_that_is_down_then_up_with_the_same_webhook_id(registered_model, publisher):
    port = free_port()
    down = Receiver(port=port)
    sub, secret = subscribe(publisher, down.url, registered_model=registered_model)
    register(registered_model, publisher)
    delivery = WebhookDelivery.objects.get(subscription=sub)

    deliver_due(worker="test", limit=1)  # nothing listens: connection refused
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert "ConnectError" in delivery.last_error

    up = Receiver(port=port)
    up.answers.extend([503])
    up.start()
    try:
        deliver_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).state == DeliveryState.SUCCEEDED)
    finally:
        up.stop()
    assert up.ids() == [str(delivery.event_id)] * 2  # the 503 and the success
    up.verify_all(secret)
    log = list(delivery.attempt_log.order_by("number").values_list("number", "status_code"))
    assert log == [(1, None), (2, 503), (3, 200)]


def test_it_gives_up_after_the_configured_attempts_and_replays_on_request(
    settings, receiver, registered_model, publisher
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    sub, _ = subscribe(publisher, receiver.url, registered_model=registered_model)
    register(registered_model, publisher)
    receiver.answers.extend([500, 500, 500])
    delivery = WebhookDelivery.objects.get(subscription=sub)
    deliver_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).state == DeliveryState.FAILED)
    delivery.refresh_from_db()
    assert delivery.attempts == 3
    assert delivery.last_status_code == 500
    assert len(receiver.requests) == 3

    replayed = webhooks.webhook_delivery_replay(delivery=delivery, actor=publisher)
    assert replayed.state == DeliveryState.PENDING
    deliver_due(worker="test")
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SUCCEEDED
    assert receiver.ids() == [str(delivery.event_id)] * 4
    assert delivery.attempt_log.count() == 4


def test_it_disables_the_subscription_when_the_receiver_answers_410(receiver, registered_model, publisher):
    sub, _ = subscribe(publisher, receiver.url, registered_model=registered_model)
    receiver.answers.append(410)
    v1 = register(registered_model, publisher)
    deliver_due(worker="test")
    sub.refresh_from_db()
    assert sub.active is False
    assert "410" in sub.disabled_reason
    assert WebhookDelivery.objects.get(subscription=sub).state == DeliveryState.FAILED

    services.version_transition(version=v1, to="staging", actor=publisher)
    assert WebhookDelivery.objects.filter(subscription=sub).count() == 1  # no new deliveries
    assert deliver_due(worker="test") == 0
    assert len(receiver.requests) == 1


def test_it_signs_with_both_secrets_during_a_rotation(receiver, registered_model, publisher):
    sub, old = subscribe(publisher, receiver.url, registered_model=registered_model)
    sub, new = webhooks.webhook_subscription_rotate_secret(subscription=sub, actor=publisher, overlap_hours=1)
    register(registered_model, publisher)
    deliver_due(worker="test")
    headers, body = receiver.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)

    sub.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    sub.save()
    services.version_transition(version=sub.registered_model.versions.get(), to="staging", actor=publisher)
    deliver_due(worker="test")
    headers, body = receiver.requests[1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


def test_a_delivery_whose_worker_died_is_sent_again_after_its_lease_expires(
    receiver, registered_model, publisher
):
    _, secret = subscribe(publisher, receiver.url, registered_model=registered_model)
    register(registered_model, publisher)
    claimed = delivery_claim(worker="doomed")  # the worker takes the lease, then dies before sending
    assert claimed is not None
    assert deliver_due(worker="test") == 0  # the live lease keeps others off it

    WebhookDelivery.objects.filter(pk=claimed.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
    assert deliver_due(worker="test") == 1
    claimed.refresh_from_db()
    assert claimed.state == DeliveryState.SUCCEEDED
    assert receiver.ids() == [str(claimed.event_id)]
    receiver.verify_all(secret)
    log = list(claimed.attempt_log.order_by("number").values_list("number", "status_code", "error"))
    assert log[0][:2] == (1, None)
    assert "lease expired" in log[0][2]
    assert log[1][:2] == (2, 200)


def test_a_late_result_from_a_worker_that_lost_its_lease_changes_nothing(
    receiver, registered_model, publisher
):
    from models_app.pipeline.delivery import delivery_send

    subscribe(publisher, receiver.url, registered_model=registered_model)
    register(registered_model, publisher)
    slow = delivery_claim(worker="slow")
    WebhookDelivery.objects.filter(pk=slow.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
    fast = delivery_claim(worker="fast")
    assert fast.pk == slow.pk
    receiver.answers.append(500)
    delivery_send(slow, worker="slow")  # answered 500, but its lease is gone: state untouched
    row = WebhookDelivery.objects.get(pk=slow.pk)
    assert row.state == DeliveryState.PENDING
    assert row.lease_token == fast.lease_token
    delivery_send(fast, worker="fast")
    assert WebhookDelivery.objects.get(pk=slow.pk).state == DeliveryState.SUCCEEDED


def test_backoff_grows_exponentially_with_jitter(settings):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 10
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 100
    for attempts, full in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = [backoff_delay(attempts) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1


def test_an_unexpected_error_is_logged_as_an_attempt_and_retried(
    monkeypatch, receiver, registered_model, publisher
):
    from models_app.pipeline import delivery as delivery_module

    subscribe(publisher, receiver.url, registered_model=registered_model)
    register(registered_model, publisher)

    def broken(*args, **kwargs):
        raise ValueError("unexpected")

    monkeypatch.setattr(delivery_module, "event_body", broken)
    deliver_due(worker="test", limit=1)
    row = WebhookDelivery.objects.get()
    assert row.state == DeliveryState.PENDING
    assert row.lease_token is None
    assert "Internal error: ValueError: unexpected" in row.attempt_log.get().error
    monkeypatch.undo()
    deliver_until(lambda: WebhookDelivery.objects.get().state == DeliveryState.SUCCEEDED)
    assert len(receiver.requests) == 1
