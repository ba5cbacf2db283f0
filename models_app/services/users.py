"""Users: deactivation (users are never deleted, the ledger refers to them forever) and their own
notification settings."""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from models_app import rules
from models_app.choices import LedgerKind, RequestStatus
from models_app.models import ApiToken, NotificationSettings, TransitionRequest
from models_app.services._shared import clean_comment, lock_model, record


def user_deactivate(*, user, actor, reason: str = "") -> bool:
    """Deactivate ``user``: their API tokens are revoked at once and their pending transition requests
    cancelled (a ledger row each), and the change is recorded in the admin's log. Returns False when
    the user was already inactive (nothing changes).
    """
    reason = clean_comment(reason, field="reason")
    rules.refuse(rules.may_deactivate_user(actor, user=user))
    now = timezone.now()
    note = f"Deactivated by {actor.get_username()}" + (f": {reason}" if reason else ".")
    with transaction.atomic():
        # Lock order everywhere: models before requests; the user row is not part of that order.
        pending = list(
            TransitionRequest.objects.filter(requested_by=user, status=RequestStatus.PENDING)
            .select_related("version")
            .order_by("version__registered_model_id", "id")
        )
        models = {}
        for model_id in sorted({req.version.registered_model_id for req in pending}):
            models[model_id] = lock_model(model_id)
        target = get_user_model().objects.select_for_update().get(pk=user.pk)
        if not target.is_active:
            return False
        target.is_active = False
        target.save(update_fields=["is_active"])
        revoked = ApiToken.objects.filter(user=target, revoked_at=None).update(revoked_at=now)
        for req in (
            TransitionRequest.objects.select_for_update()
            .filter(pk__in=[r.pk for r in pending], status=RequestStatus.PENDING)
            .select_related("version")
        ):
            req.status, req.decided_at = RequestStatus.CANCELLED, now
            req.save(update_fields=["status", "decided_at"])
            record(
                registered_model=models[req.version.registered_model_id],
                version=req.version,
                kind=LedgerKind.CANCELLATION,
                actor=actor,
                transition_request=req,
                comment=f"Cancelled automatically: the requester was deactivated. {note}",
                now=now,
            )
        LogEntry.objects.log_actions(
            user_id=actor.pk,
            queryset=[target],
            action_flag=CHANGE,
            change_message=f"{note} Revoked {revoked} API token(s); cancelled {len(pending)} pending request(s).",
            single_object=True,
        )
    user.is_active = False
    return True


def notification_settings_set(*, actor, email_notifications: bool) -> NotificationSettings:
    """A user turns their own notification e-mails on or off (requests awaiting their decision, their
    requests decided); e-mails already queued are not sent once it is off."""
    with transaction.atomic():
        prefs, _ = NotificationSettings.objects.select_for_update().get_or_create(user=actor)
        prefs.email_notifications = bool(email_notifications)
        prefs.save(update_fields=["email_notifications", "updated_at"])
    return prefs
