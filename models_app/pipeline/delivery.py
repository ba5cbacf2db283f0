"""The webhook delivery worker's core: claim a due delivery, send it signed, record the attempt.

Delivery is at-least-once with the event id as ``webhook-id`` (the receiver's idempotency key):

- Claiming takes a lease in a short transaction (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL):
  the delivery gets a fresh ``lease_token`` and ``leased_until``. Concurrent workers skip rows another
  worker is claiming and rows under a live lease, so no attempt is sent twice at once.
- Sending happens outside any transaction. The result is written only if the lease token still matches.
- A worker that dies mid-send writes nothing; when its lease expires the delivery is due again, and the
  next claim notes the lost attempt in the log. Nothing is ever stranded in an "in flight" state.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from models_app.choices import DeliveryState
from models_app.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from models_app.pipeline import ssrf
from models_app.pipeline.events import event_body

log = logging.getLogger("models_app.webhooks")
_random = secrets.SystemRandom()
USER_AGENT = "model-registry-webhooks/1"


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def backoff_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: exponential, capped, with "equal jitter"."""
    base = settings.WEBHOOK_BACKOFF_BASE_SECONDS
    delay = min(settings.WEBHOOK_BACKOFF_MAX_SECONDS, base * 2 ** max(attempts - 1, 0))
    # Half fixed, half random: retries spread out without ever coming back immediately.
    return delay / 2 + _random.uniform(0, delay / 2)


def signature_header(*, secrets_: list[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """``v1,<base64>`` per valid secret, space-separated (two during a secret rotation)."""
    return " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body) for secret in secrets_
    )


def _due(now) -> Q:
    return Q(state=DeliveryState.PENDING, next_attempt_at__lte=now, subscription__active=True) & (
        Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    )


def delivery_claim(*, worker: str, now=None) -> WebhookDelivery | None:
    """Lease the oldest due delivery for ``worker``; None when nothing is due."""
    now = now or timezone.now()
    with transaction.atomic():
        qs = WebhookDelivery.objects.filter(_due(now)).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        delivery = qs.first()
        if delivery is None:
            return None
        if delivery.lease_token is not None:
            # The previous holder's lease ran out before it recorded a result: it stopped mid-send.
            WebhookAttempt.objects.create(
                delivery=delivery,
                number=delivery.attempts,
                started_at=delivery.leased_until - timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS),
                error="No result recorded: the worker stopped before finishing (its lease expired).",
                worker="",
            )
        delivery.attempts += 1
        delivery.lease_token = uuid.uuid4()
        delivery.leased_until = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
        delivery.save(update_fields=["attempts", "lease_token", "leased_until"])
    return delivery


def _outcome(result: ssrf.SendResult | None, refused: str) -> tuple[bool, str]:
    if refused:
        return False, refused
    if result.error:
        return False, result.error
    if 200 <= result.status_code < 300:
        return True, ""
    if 300 <= result.status_code < 400:
        return (
            False,
            f"Answered {result.status_code}; redirects are not followed (Location: {result.location}).",
        )
    return False, f"Answered {result.status_code}."


def delivery_send(delivery: WebhookDelivery, *, worker: str) -> bool:
    """Send one claimed delivery and record the attempt; True when the receiver accepted it."""
    subscription = WebhookSubscription.objects.filter(pk=delivery.subscription_id).first()
    if subscription is None:
        return False  # deleted meanwhile, with its deliveries
    try:
        return _send(delivery, subscription, worker=worker)
    except Exception as exc:
        # A bug or a broken row must not stop the worker: log it as a failed attempt and retry later.
        log.exception("delivery %s failed unexpectedly", delivery.pk)
        error = f"Internal error: {exc.__class__.__name__}: {exc}"[:2000]
        _record_result(
            delivery, subscription, None, ok=False, error=error, started=timezone.now(), worker=worker
        )
        return False


def _send(delivery: WebhookDelivery, subscription: WebhookSubscription, *, worker: str) -> bool:
    event = delivery.event
    body = json.dumps(event_body(event), separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    started = timezone.now()
    msg_id = str(event.id)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(started.timestamp())),
        "webhook-signature": signature_header(
            secrets_=subscription.signing_secrets(started), msg_id=msg_id, timestamp=started, body=body
        ),
    }
    result, refused = None, ""
    try:
        result = ssrf.post(subscription.url, body=body.encode("utf-8"), headers=headers)
    except ssrf.UnsafeWebhookTarget as exc:
        refused = f"Refused: {exc}"
    ok, error = _outcome(result, refused)
    _record_result(delivery, subscription, result, ok=ok, error=error, started=started, worker=worker)
    log.info(
        "webhook delivery=%s event=%s sub=%s attempt=%s status=%s ok=%s %s",
        delivery.pk,
        msg_id,
        subscription.pk,
        delivery.attempts,
        result.status_code if result else None,
        ok,
        error,
    )
    return ok


def _record_result(delivery, subscription, result, *, ok: bool, error: str, started, worker: str) -> None:
    now = timezone.now()
    status_code = result.status_code if result else None
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk).first()
        current = row is not None and row.lease_token == delivery.lease_token
        if row is not None:
            WebhookAttempt.objects.create(
                delivery=row,
                number=delivery.attempts,
                started_at=started,
                duration_ms=result.duration_ms if result else 0,
                status_code=status_code,
                response_excerpt=result.excerpt if result else "",
                error=error if current else f"{error} (recorded after the lease expired)".strip(),
                target_ip=result.address if result else "",
                worker=worker[:100],
            )
        if not current:
            log.warning("delivery %s: lease lost before the result was recorded", delivery.pk)
            return
        row.last_status_code = status_code
        row.last_error = error[:2000]
        row.leased_until = None
        row.lease_token = None
        if ok:
            row.state, row.delivered_at = DeliveryState.SUCCEEDED, now
        elif status_code == 410:
            # The receiver says the endpoint is gone for good: stop sending it anything.
            row.state = DeliveryState.FAILED
            WebhookSubscription.objects.filter(pk=subscription.pk).update(
                active=False,
                disabled_reason=f"Disabled: the receiver answered 410 Gone at {now.isoformat()}.",
            )
        elif row.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            row.state = DeliveryState.FAILED
        else:
            row.next_attempt_at = now + timedelta(seconds=backoff_delay(row.attempts))
        row.save(
            update_fields=[
                "state",
                "delivered_at",
                "last_status_code",
                "last_error",
                "leased_until",
                "lease_token",
                "next_attempt_at",
            ]
        )


def deliver_due(*, worker: str | None = None, limit: int = 1000) -> int:
    """Claim and send due deliveries one at a time until none is due (or ``limit``); returns how many."""
    worker = worker or default_worker_id()
    sent = 0
    while sent < limit:
        delivery = delivery_claim(worker=worker)
        if delivery is None:
            break
        delivery_send(delivery, worker=worker)
        sent += 1
    return sent
