"""The governance admin for webhooks, deliveries, events and deployments: pages, services, replay."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_app import services
from models_app.choices import DeliveryState, EventType
from models_app.models import WebhookDelivery, WebhookSubscription
from models_app.pipeline.delivery import deliver_due
from models_app.services import webhooks
from tests.conftest import make_user, nothing_written, register


def url(name, *args):
    return reverse(f"admin:models_app_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def delivered(receiver, registered_model, publisher):
    """One subscription with a delivered event and a failed one."""
    sub, _ = webhooks.webhook_subscription_create(
        url=receiver.url, actor=publisher, registered_model=registered_model
    )
    receiver.answers.append(200)
    v1 = register(registered_model, publisher)
    deliver_due(worker="test")
    services.deployment_report(version=v1, environment="prod-eu", status="succeeded", actor=publisher)
    WebhookDelivery.objects.filter(state=DeliveryState.PENDING).update(state=DeliveryState.FAILED)
    return sub


@pytest.mark.parametrize(
    "page",
    [
        "webhooksubscription_changelist",
        "webhookdelivery_changelist",
        "event_changelist",
        "deployment_changelist",
    ],
)
def test_it_shows_the_pages_to_governance(client, governance, delivered, page):
    client.force_login(governance)
    response = client.get(url(page))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


def test_it_hides_the_pages_from_staff_without_governance(client, role_groups, delivered):
    staff = make_user("stan-staff", role_groups["Reviewers"], is_staff=True)
    client.force_login(staff)
    with nothing_written():
        assert client.get(url("webhooksubscription_changelist")).status_code == 403
        assert client.get(url("webhookdelivery_changelist")).status_code == 403


def test_a_delivery_page_shows_its_attempt_log(client, governance, delivered):
    client.force_login(governance)
    delivery = WebhookDelivery.objects.filter(state=DeliveryState.SUCCEEDED).get()
    response = client.get(url("webhookdelivery_change", delivery.pk))
    assert response.status_code == 200
    assert b"answer 200" in response.content  # the response excerpt of the attempt
    assert b"127.0.0.1" in response.content


def test_it_creates_a_subscription_through_the_service_and_shows_the_secret_once(
    client, governance, receiver, registered_model
):
    client.force_login(governance)
    response = client.post(
        url("webhooksubscription_add"),
        {"url": receiver.url, "description": "CD", "event_types": [EventType.STAGE_CHANGED], "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    sub = WebhookSubscription.objects.get()
    assert sub.created_by == governance
    assert sub.event_types == [EventType.STAGE_CHANGED]
    assert any(sub.secret in m for m in messages_of(response))


def test_it_shows_a_refused_url_as_a_form_error(client, governance, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    client.force_login(governance)
    response = client.post(url("webhooksubscription_add"), {"url": "http://169.254.169.254/", "active": "on"})
    assert response.status_code == 200
    assert "link-local" in str(response.context["adminform"].form.errors)
    assert not WebhookSubscription.objects.exists()


def test_the_replay_action_requeues_failed_deliveries(client, governance, delivered):
    client.force_login(governance)
    failed = WebhookDelivery.objects.filter(state=DeliveryState.FAILED)
    ids = list(failed.values_list("pk", flat=True))
    assert ids
    response = client.post(
        url("webhookdelivery_changelist"), {"action": "replay", "_selected_action": ids}, follow=True
    )
    assert f"Queued {len(ids)} deliveries for replay" in " ".join(messages_of(response))
    assert set(WebhookDelivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {
        DeliveryState.PENDING
    }
    deliver_due(worker="test")
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DeliveryState.SUCCEEDED}


def test_the_rotate_action_shows_the_new_secret(client, governance, delivered):
    client.force_login(governance)
    old = delivered.secret
    response = client.post(
        url("webhooksubscription_changelist"),
        {"action": "rotate_secret", "_selected_action": [delivered.pk]},
        follow=True,
    )
    delivered.refresh_from_db()
    assert delivered.secret != old
    assert delivered.previous_secret == old
    assert any(delivered.secret in m for m in messages_of(response))
