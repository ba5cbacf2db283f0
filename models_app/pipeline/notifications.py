"""E-mail notifications through the outbox: reviewers hear that a request awaits their decision,
requesters that theirs was decided.

``notifications_queue`` runs in the transaction of the change (called for each event written from a
ledger row), so an e-mail exists exactly when the change committed. ``email_send_due`` (run by the
delivery worker, ``manage.py deliver_webhooks``, beside the webhook deliveries) sends them after commit
with Django's e-mail framework, retrying failures with backoff. A user who turned notifications off in
their settings page gets nothing queued, and nothing sent that was queued before.

Reviewers are the active users holding the decide permission through a group or directly (not
superusers by that alone), never the requester; everyone needs an e-mail address.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from models_app import roles
from models_app.choices import EmailState, LedgerKind, Stage
from models_app.models import EmailNotification, Event, LedgerEntry, NotificationSettings

log = logging.getLogger("models_app.notifications")

_LEASE_SECONDS = 120


def backoff_seconds(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed send: one minute, doubling, at most six hours."""
    return min(6 * 3600.0, 60.0 * 2 ** max(attempts - 1, 0))


def wants_email(user) -> bool:
    """Whether ``user`` receives notification e-mails (on unless they turned it off)."""
    prefs = NotificationSettings.objects.filter(user=user).first()
    return prefs is None or prefs.email_notifications


def _reachable(users):
    return (
        users.filter(is_active=True)
        .exclude(email="")
        .exclude(notification_settings__email_notifications=False)
    )


def _reviewers():
    app, codename = roles.DECIDE_PERM.split(".")
    perm = Q(content_type__app_label=app, codename=codename)
    User = get_user_model()
    direct = Q(user_permissions__in=_perm_ids(perm)) | Q(groups__permissions__in=_perm_ids(perm))
    return _reachable(User.objects.filter(direct).distinct())


def _perm_ids(q):
    return Permission.objects.filter(q).values("pk")


def _url(path: str) -> str:
    return settings.REGISTRY_PUBLIC_URL + path


def _messages(row: LedgerEntry) -> tuple[object, str, str] | None:
    """(recipients queryset, subject, body) for a ledger row that notifies anyone, else None."""
    req = row.transition_request
    if req is None or row.version is None:
        return None
    model, version = row.registered_model, row.version
    label = f"{model.name} v{version.version}"
    compare = _url(
        reverse("models_app:modelversion-compare", args=[model.name]) + f"?versions={version.version}"
    )
    comment = f"\n\nComment from {row.actor_username}:\n{row.comment}\n" if row.comment else "\n"
    footer = f"\n--\nTurn these e-mails off: {_url(reverse('models_app:user-settings'))}\n"
    if row.kind == LedgerKind.REQUESTED:
        users = _reviewers().exclude(pk=req.requested_by_id)
        subject = f"[Model Registry] {label} awaits your decision (request #{req.pk})"
        body = (
            f"{row.actor_username} asks to move {label} to {Stage(req.target_stage).label}."
            f"{comment}\nCompare with Production and decide: {compare}\n"
        )
    elif row.kind in (LedgerKind.APPROVED, LedgerKind.REJECTION):
        users = _reachable(get_user_model().objects.filter(pk=req.requested_by_id))
        if row.kind == LedgerKind.APPROVED:
            subject = f"[Model Registry] Approved: {label} is in Production (request #{req.pk})"
            body = (
                f"{row.actor_username} approved request #{req.pk}: "
                f"{label} is now in {Stage(req.target_stage).label}."
            )
        else:
            subject = f"[Model Registry] Rejected: request #{req.pk} for {label}"
            body = f"{row.actor_username} rejected request #{req.pk}: {label} stays where it was."
        body += f"{comment}\nSee the version: {_url(reverse('models_app:modelversion-detail', args=[model.name, version.version]))}\n"
    else:
        return None
    return users, subject, body + footer


def notifications_queue(event: Event, row: LedgerEntry) -> int:
    """Queue the e-mails a ledger row calls for, in the caller's transaction; returns how many."""
    if not settings.EMAIL_NOTIFICATIONS:
        return 0
    found = _messages(row)
    if found is None:
        return 0
    users, subject, body = found
    rows = [
        EmailNotification(
            event=event,
            recipient=user,
            to_address=user.email,
            subject=subject[:255],
            body=body,
            next_attempt_at=event.occurred_at,
        )
        for user in users.order_by("pk")
    ]
    EmailNotification.objects.bulk_create(rows)
    return len(rows)


def _claim(now) -> EmailNotification | None:
    with transaction.atomic():
        qs = EmailNotification.objects.filter(
            Q(leased_until__isnull=True) | Q(leased_until__lte=now),
            state=EmailState.PENDING,
            next_attempt_at__lte=now,
        ).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        email = qs.select_related("recipient").first()
        if email is None:
            return None
        email.attempts += 1
        email.leased_until = now + timedelta(seconds=_LEASE_SECONDS)
        email.save(update_fields=["attempts", "leased_until"])
    return email


def _finish(email: EmailNotification, **fields) -> None:
    EmailNotification.objects.filter(pk=email.pk).update(leased_until=None, **fields)


def email_send(email: EmailNotification) -> bool:
    """Send one claimed e-mail and record the outcome; True when the server accepted it."""
    now = timezone.now()
    if not email.recipient.is_active or not wants_email(email.recipient):
        _finish(email, state=EmailState.SKIPPED, last_error="The recipient turned notifications off.")
        return False
    message = EmailMessage(
        subject=email.subject,
        body=email.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to_address],
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # any SMTP, socket or TLS error: retry later
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
        if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
            _finish(email, state=EmailState.FAILED, last_error=error)
        else:
            _finish(
                email,
                last_error=error,
                next_attempt_at=now + timedelta(seconds=backoff_seconds(email.attempts)),
            )
        log.warning(
            "e-mail %s to %s failed (attempt %s): %s", email.pk, email.to_address, email.attempts, error
        )
        return False
    _finish(email, state=EmailState.SENT, sent_at=timezone.now(), last_error="")
    log.info("e-mail %s sent to %s: %s", email.pk, email.to_address, email.subject)
    return True


def email_send_due(*, limit: int = 100) -> int:
    """Send due e-mails one at a time until none is due (or ``limit``); returns how many were tried."""
    attempted = 0
    while attempted < limit:
        email = _claim(timezone.now())
        if email is None:
            break
        email_send(email)
        attempted += 1
    return attempted
