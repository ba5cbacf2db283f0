"""/oidc/: the identity provider's pages. Always routed, and 404 unless REGISTRY_OIDC_ISSUER is set:
the check runs per request, so tests can switch sign-in on for one test after the URLs were loaded."""

from functools import wraps

from django.conf import settings
from django.http import Http404
from django.urls import path

from models_app.sso.views import AuthenticateView, CallbackView

app_name = "sso"


def when_configured(view):
    """The view, or a 404 when no identity provider is configured (before the library reads its settings)."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not settings.REGISTRY_OIDC:
            raise Http404("Sign-in through an identity provider is not configured.")
        return view(request, *args, **kwargs)

    return guarded


urlpatterns = [
    path("authenticate/", when_configured(AuthenticateView.as_view()), name="authenticate"),
    # The redirect URI to register at the provider: <registry>/oidc/callback/.
    path("callback/", when_configured(CallbackView.as_view()), name="callback"),
]
