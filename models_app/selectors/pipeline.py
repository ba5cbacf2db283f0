"""Reads of the events feed, deployment reports and webhook subscriptions."""

from __future__ import annotations

from django.db.models import Max, Prefetch, Q, QuerySet, Subquery

from models_app import roles
from models_app.models import (
    EmailNotification,
    ModelVersion,
    NotificationSettings,
    RegisteredModel,
)
from models_app.models.pipeline import Deployment, Event, WebhookAttempt, WebhookDelivery, WebhookSubscription


def event_list_after(
    *, after: int = 0, limit: int = 100, types: list[str] | None = None, registered_model=None
) -> list[Event]:
    """Events with a sequence above ``after``, oldest first: the feed (see models_app/pipeline/events.py).

    Sequences become visible in order, so a cursor at the last sequence read never skips one.
    """
    qs = Event.objects.filter(sequence__gt=after).select_related("registered_model", "version")
    if types:
        qs = qs.filter(type__in=types)
    if registered_model is not None:
        qs = qs.filter(registered_model=registered_model)
    return list(qs.order_by("sequence")[:limit])


def event_last_sequence() -> int:
    """The newest event's sequence (0 when there is none): a cursor that starts at 'now'."""
    return Event.objects.aggregate(last=Max("sequence"))["last"] or 0


def _latest_deployment_ids() -> QuerySet:
    return (
        Deployment.objects.values("registered_model", "environment").annotate(last=Max("id")).values("last")
    )


def deployment_current_prefetch() -> Prefetch:
    """Prefetch ``current_deployments`` on models or versions: the latest report per environment.

    On a model: where each of its versions runs now. On a version: the environments whose latest
    report is about this version. One query for any number of rows.
    """
    return Prefetch(
        "deployments",
        queryset=Deployment.objects.filter(id__in=Subquery(_latest_deployment_ids()))
        .select_related("version", "reported_by")
        .order_by("environment"),
        to_attr="current_deployments",
    )


def deployment_list(*, version: ModelVersion) -> QuerySet[Deployment]:
    """Every deployment report of a version, newest first."""
    return Deployment.objects.filter(version=version).select_related("version", "reported_by").order_by("-id")


def deployment_list_current(*, registered_model: RegisteredModel) -> list[Deployment]:
    """The latest report per environment of a model's versions: where each version runs now."""
    return list(
        Deployment.objects.filter(
            id__in=Subquery(_latest_deployment_ids()), registered_model=registered_model
        )
        .select_related("version", "reported_by")
        .order_by("environment")
    )


def webhook_subscription_list(*, user) -> QuerySet[WebhookSubscription]:
    """The subscriptions ``user`` may see and manage (their teams'; all for Governance), oldest first."""
    qs = WebhookSubscription.objects.select_related("registered_model", "team", "created_by").order_by("id")
    if user.is_superuser or roles.can_govern_model(user):
        return qs
    if not user.has_perm(roles.PUBLISH_PERM):
        return qs.none()
    teams = user.groups.values("pk")
    return qs.filter(Q(team__in=teams) | Q(registered_model__team__in=teams))


def webhook_delivery_list(*, subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    """A subscription's deliveries with their events and attempt log, newest first."""
    return (
        WebhookDelivery.objects.filter(subscription=subscription)
        .select_related("event", "event__registered_model", "event__version")
        .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number", "id")))
        .order_by("-id")
    )


def notification_settings_get(*, user) -> NotificationSettings:
    """The user's notification settings; the defaults (everything on, unsaved) when they never chose."""
    return NotificationSettings.objects.filter(user=user).first() or NotificationSettings(user=user)


def email_notification_list(*, user, limit: int = 10) -> list[EmailNotification]:
    """The latest notification e-mails queued for ``user``, newest first."""
    return list(EmailNotification.objects.filter(recipient=user).order_by("-id")[:limit])
