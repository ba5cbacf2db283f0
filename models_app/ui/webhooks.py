"""Reviewer UI for a model's team: its webhook subscriptions, their recent deliveries, and replay.

Every write goes through the webhook services (which apply who may manage what and the SSRF rules);
a refusal becomes a message on the page. A new secret is rendered in the response itself, never put in
a flash message (those may travel in a cookie).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from models_app import rules, selectors, services
from models_app.choices import DeliveryState, EventType
from models_app.exceptions import RegistryError
from models_app.models import RegisteredModel, WebhookDelivery, WebhookSubscription
from models_app.ui.common import attempt, forbid, form_error, get_or_404, registry_view


class WebhookSubscriptionForm(forms.Form):
    """A new subscription: where to send, which events, and whether for this model or the whole team."""

    url = forms.CharField(
        max_length=2000, label="Receiver URL", help_text="http(s); must be reachable publicly."
    )
    event_types = forms.MultipleChoiceField(
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        help_text="None checked: every event.",
    )
    scope = forms.ChoiceField(
        choices=[("model", "This model"), ("team", "Every model of the team")], initial="model", label="For"
    )
    description = forms.CharField(max_length=500, required=False, label="Description")


def _model_for_manager(request: HttpRequest, name: str) -> RegisteredModel:
    model = get_or_404(selectors.registered_model_get, name=name)
    forbid(rules.may_manage_webhooks(request.user, registered_model=model))
    return model


def _subscriptions(model: RegisteredModel) -> list[WebhookSubscription]:
    recent = WebhookDelivery.objects.select_related("event").order_by("-id")
    return list(
        WebhookSubscription.objects.filter(Q(registered_model=model) | Q(team_id=model.team_id))
        .select_related("registered_model", "team", "created_by")
        .prefetch_related(Prefetch("deliveries", queryset=recent, to_attr="recent_deliveries"))
        .order_by("id")
    )


@require_http_methods(["GET", "POST"])
@registry_view
def webhooksubscription_list(request: HttpRequest, name: str) -> HttpResponse:
    """The model's and its team's subscriptions with their latest deliveries, and a form to add one."""
    model = _model_for_manager(request, name)
    form = WebhookSubscriptionForm(request.POST or None)
    created = None
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                created, secret = services.webhook_subscription_create(
                    url=data["url"],
                    actor=request.user,
                    event_types=list(data["event_types"]),
                    registered_model=model if data["scope"] == "model" else None,
                    team=model.team if data["scope"] == "team" else None,
                    description=data["description"],
                )
                created.new_secret = secret
                form = WebhookSubscriptionForm()
            except RegistryError as exc:
                form.add_error("url" if exc.field == "url" else None, str(exc))
        else:
            form_error(request, form)
    context = {
        "model": model,
        "subscriptions": _subscriptions(model),
        "form": form,
        "created": created,
        "failed": DeliveryState.FAILED,
    }
    return render(request, "models_app/webhooksubscription_list.html", context)


def _subscription(model: RegisteredModel, pk: int) -> WebhookSubscription:
    sub = next((s for s in _subscriptions(model) if s.pk == pk), None)
    if sub is None:
        raise PermissionDenied(f"Subscription #{pk} does not belong to {model.name} or its team.")
    return sub


@require_POST
@registry_view
def webhooksubscription_action(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """Activate, deactivate or delete a subscription."""
    model = _model_for_manager(request, name)
    sub = _subscription(model, pk)
    action = request.POST.get("action")
    if action in ("activate", "deactivate"):
        attempt(
            request,
            lambda: services.webhook_subscription_update(
                subscription=sub, actor=request.user, active=action == "activate"
            ),
            lambda s: f"Subscription #{s.pk} is {'active' if s.active else 'inactive'}.",
        )
    elif action == "delete":
        attempt(
            request,
            lambda: services.webhook_subscription_delete(subscription=sub, actor=request.user),
            lambda _: f"Subscription #{pk} was deleted.",
        )
    else:
        messages.error(request, "Unknown action.")
    return redirect("models_app:webhooksubscription-list", model.name)


@require_POST
@registry_view
def webhookdelivery_replay(request: HttpRequest, name: str, pk: int, delivery_id: int) -> HttpResponse:
    """Send a failed delivery again."""
    model = _model_for_manager(request, name)
    sub = _subscription(model, pk)
    delivery = WebhookDelivery.objects.filter(subscription=sub, pk=delivery_id).first()
    if delivery is None:
        messages.error(request, f"Subscription #{pk} has no delivery #{delivery_id}.")
    else:
        attempt(
            request,
            lambda: services.webhook_delivery_replay(delivery=delivery, actor=request.user),
            lambda d: f"Delivery #{d.pk} will be sent again.",
        )
    return redirect("models_app:webhooksubscription-list", model.name)
