"""The signed-in user's own settings page: notification e-mails on or off."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from models_app import selectors, services
from models_app.ui.common import registry_view
from models_app.ui.forms import NotificationSettingsForm


@require_http_methods(["GET", "POST"])
@registry_view
def user_settings(request: HttpRequest) -> HttpResponse:
    """GET shows the user's notification settings; POST saves them (one service call)."""
    prefs = selectors.notification_settings_get(user=request.user)
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST)
        if form.is_valid():
            services.notification_settings_set(
                actor=request.user, email_notifications=form.cleaned_data["email_notifications"]
            )
            on = form.cleaned_data["email_notifications"]
            messages.success(
                request, "Notification e-mails are on." if on else "Notification e-mails are off."
            )
            return redirect(reverse("models_app:user-settings"))
    else:
        form = NotificationSettingsForm(initial={"email_notifications": prefs.email_notifications})
    return render(
        request,
        "models_app/user_settings.html",
        {
            "form": form,
            "email": request.user.email,
            "recent": selectors.email_notification_list(user=request.user),
        },
    )
