"""Webhook subscriptions: create, change, rotate secrets, delete, and replay failed deliveries.

Who may manage a subscription is ``rules.may_manage_webhooks``'s to say: members of its model's (or
team filter's) team who publish for it, Governance, and superusers; a subscription to every model is
Governance's.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from models_app import rules
from models_app.choices import DeliveryState, EventType
from models_app.exceptions import Conflict, InvalidInput
from models_app.models import RegisteredModel, WebhookDelivery, WebhookSubscription
from models_app.pipeline.ssrf import resolve_target
from models_app.services._shared import UNSET

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes (the spec asks for 24-64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _require_manage(user, subscription_or_scope) -> None:
    if isinstance(subscription_or_scope, WebhookSubscription):
        scope = {
            "registered_model": subscription_or_scope.registered_model,
            "team": subscription_or_scope.team,
        }
    else:
        scope = subscription_or_scope
    rules.refuse(rules.may_manage_webhooks(user, **scope))


def _clean_event_types(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidInput("Must be a list of event types (empty for all).", field="event_types")
    cleaned = []
    for item in value:
        if item not in EventType.values:
            raise InvalidInput(
                f"Unknown event type {item!r}; use any of: {', '.join(EventType.values)}.",
                field="event_types",
            )
        if item not in cleaned:
            cleaned.append(item)
    return cleaned


def _clean_description(value: object) -> str:
    text = (value or "").strip() if isinstance(value, str | type(None)) else None
    if text is None or len(text) > 500 or not text.isprintable():
        raise InvalidInput("Must be at most 500 printable characters.", field="description")
    return text


def webhook_subscription_create(
    *,
    url: str,
    actor,
    event_types: list[str] | None = None,
    registered_model: RegisteredModel | None = None,
    team: Group | None = None,
    description: str = "",
    active: bool = True,
) -> tuple[WebhookSubscription, str]:
    """Subscribe ``url`` to events; returns (subscription, secret). The secret is shown only now.

    The URL must resolve to public addresses (unless private targets are allowed by the settings).
    """
    if registered_model is not None and team is not None:
        raise InvalidInput("Filter by a model or by a team, not both.", field="team")
    _require_manage(actor, {"registered_model": registered_model, "team": team})
    event_types = _clean_event_types(event_types)
    description = _clean_description(description)
    resolve_target(url, field="url")
    secret = new_secret()
    subscription = WebhookSubscription.objects.create(
        url=url,
        description=description,
        event_types=event_types,
        registered_model=registered_model,
        team=team,
        secret=secret,
        active=bool(active),
        created_by=actor,
    )
    return subscription, secret


def webhook_subscription_update(
    *,
    subscription: WebhookSubscription,
    actor,
    url: str = UNSET,
    event_types: list[str] = UNSET,
    description: str = UNSET,
    active: bool = UNSET,
) -> WebhookSubscription:
    """Change a subscription's URL, event types, description or active flag.

    Re-activating clears the reason it was disabled; its waiting deliveries resume.
    """
    _require_manage(actor, subscription)
    fields = []
    if url is not UNSET:
        resolve_target(url, field="url")
        subscription.url = url
        fields.append("url")
    if event_types is not UNSET:
        subscription.event_types = _clean_event_types(event_types)
        fields.append("event_types")
    if description is not UNSET:
        subscription.description = _clean_description(description)
        fields.append("description")
    if active is not UNSET:
        if not isinstance(active, bool):
            raise InvalidInput("Must be true or false.", field="active")
        subscription.active = active
        fields.append("active")
        if active:
            subscription.disabled_reason = ""
            fields.append("disabled_reason")
    if fields:
        subscription.save(update_fields=[*fields, "updated_at"])
    return subscription


def webhook_subscription_rotate_secret(
    *, subscription: WebhookSubscription, actor, overlap_hours: float | None = None
) -> tuple[WebhookSubscription, str]:
    """Issue a new secret; the current one stays valid for ``overlap_hours`` (deliveries carry both)."""
    _require_manage(actor, subscription)
    if overlap_hours is None:
        overlap_hours = settings.WEBHOOK_SECRET_OVERLAP_HOURS
    if (
        isinstance(overlap_hours, bool)
        or not isinstance(overlap_hours, int | float)
        or not 0 <= overlap_hours <= 720
    ):
        raise InvalidInput("Must be a number of hours from 0 to 720.", field="overlap_hours")
    secret = new_secret()
    with transaction.atomic():
        sub = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        sub.previous_secret = sub.secret
        sub.previous_secret_expires_at = timezone.now() + timedelta(hours=overlap_hours)
        sub.secret = secret
        sub.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return sub, secret


def webhook_subscription_delete(*, subscription: WebhookSubscription, actor) -> None:
    """Remove a subscription with its deliveries and their attempt log."""
    _require_manage(actor, subscription)
    subscription.delete()


def webhook_delivery_replay(*, delivery: WebhookDelivery, actor) -> WebhookDelivery:
    """Send a failed delivery again (same ``webhook-id``), with a fresh budget of attempts."""
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().select_related("subscription").get(pk=delivery.pk)
        _require_manage(actor, row.subscription)
        if row.state != DeliveryState.FAILED:
            raise Conflict(f"Delivery #{row.pk} is {row.state}; only failed deliveries can be replayed.")
        if not row.subscription.active:
            raise Conflict(
                f"Subscription #{row.subscription_id} is inactive; re-activate it first.", field="active"
            )
        row.state = DeliveryState.PENDING
        row.attempts = 0
        row.next_attempt_at = timezone.now()
        row.leased_until = None
        row.lease_token = None
        row.save(update_fields=["state", "attempts", "next_attempt_at", "leased_until", "lease_token"])
    return row
