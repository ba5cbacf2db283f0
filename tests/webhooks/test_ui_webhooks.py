"""The reviewer UI for a model's team: webhooks page, replay, and where versions are deployed."""

from __future__ import annotations

from django.urls import reverse

from models_app import services
from models_app.choices import DeliveryState, EventType
from models_app.models import WebhookDelivery, WebhookSubscription
from models_app.pipeline.delivery import deliver_due
from models_app.services import webhooks
from tests.conftest import nothing_written, promote, register


def page(model="fraud-detector"):
    return reverse("models_app:webhooksubscription-list", args=[model])


def test_a_team_publisher_subscribes_and_sees_the_secret_once(client, receiver, registered_model, publisher):
    client.force_login(publisher)
    assert client.get(page()).status_code == 200
    response = client.post(
        page(), {"url": receiver.url, "event_types": [EventType.STAGE_CHANGED], "scope": "model"}
    )
    assert response.status_code == 200
    sub = WebhookSubscription.objects.get()
    assert sub.registered_model == registered_model
    assert sub.event_types == [EventType.STAGE_CHANGED]
    assert sub.secret in response.content.decode()
    again = client.get(page()).content.decode()
    assert sub.url in again and sub.secret not in again

    team_wide = client.post(page(), {"url": receiver.url, "scope": "team"})
    assert team_wide.status_code == 200
    assert WebhookSubscription.objects.filter(team=registered_model.team).count() == 1


def test_a_refused_target_is_shown_and_nothing_is_saved(client, settings, registered_model, publisher):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    client.force_login(publisher)
    response = client.post(page(), {"url": "http://10.0.0.1/hook", "scope": "model"})
    assert response.status_code == 200
    assert "private address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_outsiders_and_reviewers_cannot_manage_the_teams_webhooks(
    client, registered_model, outsider, reviewer
):
    for user in (outsider, reviewer):
        client.force_login(user)
        with nothing_written():
            assert client.get(page()).status_code == 403
            assert client.post(page(), {"url": "https://example.com/x", "scope": "model"}).status_code == 403
    assert not WebhookSubscription.objects.exists()


def test_failed_deliveries_can_be_replayed_and_subscriptions_deactivated(
    client, settings, receiver, registered_model, publisher
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    sub, _ = webhooks.webhook_subscription_create(
        url=receiver.url, actor=publisher, registered_model=registered_model
    )
    receiver.answers.append(500)
    register(registered_model, publisher)
    deliver_due(worker="test")
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED

    client.force_login(publisher)
    listing = client.get(page()).content.decode()
    assert "Replay" in listing and "version.registered" in listing
    client.post(reverse("models_app:webhookdelivery-replay", args=["fraud-detector", sub.pk, delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING

    client.post(
        reverse("models_app:webhooksubscription-action", args=["fraud-detector", sub.pk]),
        {"action": "deactivate"},
    )
    sub.refresh_from_db()
    assert sub.active is False
    client.post(
        reverse("models_app:webhooksubscription-action", args=["fraud-detector", sub.pk]),
        {"action": "delete"},
    )
    assert not WebhookSubscription.objects.exists()


def test_model_and_version_pages_show_where_versions_run(client, registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    services.deployment_report(version=v1, environment="prod-eu", status="succeeded", actor=publisher)
    client.force_login(publisher)
    model_page = client.get(
        reverse("models_app:registeredmodel-detail", args=["fraud-detector"])
    ).content.decode()
    assert "prod-eu: succeeded" in model_page
    assert page() in model_page  # the Webhooks button for the team
    version_page = client.get(
        reverse("models_app:modelversion-detail", args=["fraud-detector", 1])
    ).content.decode()
    assert "prod-eu: succeeded" in version_page
    client.force_login(reviewer)
    assert (
        page()
        not in client.get(
            reverse("models_app:registeredmodel-detail", args=["fraud-detector"])
        ).content.decode()
    )
