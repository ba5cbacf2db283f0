"""E-mail notifications: each user's choice, and the outbox of messages the worker sends after commit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from models_app.choices import EmailState


class NotificationSettings(models.Model):
    """What a user wants to be e-mailed about; a user without a row gets the defaults (everything on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email_notifications = models.BooleanField(
        default=True,
        help_text="E-mail me when a request awaits my decision and when my requests are decided.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"notifications of {self.user_id}: {'on' if self.email_notifications else 'off'}"


class EmailNotification(models.Model):
    """One e-mail to one user, queued in the transaction of the change it reports (an outbox row) and
    sent by the delivery worker after commit; retried with backoff until it is sent or runs out of
    attempts."""

    event = models.ForeignKey(
        "models_app.Event", on_delete=models.PROTECT, related_name="email_notifications"
    )
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    to_address = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=EmailState, default=EmailState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient"], name="models_app_emailnotification_unique_event_recipient"
            ),
            models.CheckConstraint(
                condition=Q(state__in=EmailState.values), name="models_app_emailnotification_state_valid"
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="models_app_email_due")]

    def __str__(self) -> str:
        return f"e-mail #{self.pk} to {self.to_address} ({self.state})"
