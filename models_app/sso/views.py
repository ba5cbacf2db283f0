"""The sign-in pages: login (password form and the provider's button), logout (ending the provider's
session too), the provider's start and callback pages, and one error page for every refused answer.

The admin's login and logout lead here as well, so both follow the same rules.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import jwt
import requests
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from models_app import rules
from models_app.sso import discovery
from models_app.sso.backend import SignInRefused

log = logging.getLogger("models_app.sign_in")

ERROR_TEMPLATE = "registration/sso_error.html"


def provider_name() -> str:
    return settings.REGISTRY_OIDC["provider_name"]


def error_page(request, code: str, message: str, status: int = 400):
    """The one page every refused sign-in ends on: what went wrong, its reason code, a way back."""
    log.warning("sign-in through the identity provider refused: %s: %s", code, message)
    context = {"code": code, "message": message, "provider_name": provider_name()}
    return render(request, ERROR_TEMPLATE, context, status=status)


# -- the login page ----------------------------------------------------------------------------------


class RegistryAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing up front whoever may not use a password (REGISTRY_PASSWORD_LOGIN).

    The refusal comes before the password is checked, so it neither compares a password nor counts
    as a failed attempt; the password policy backend refuses the same accounts should anything else
    call ``authenticate()`` with a password.
    """

    def clean(self):
        username = self.cleaned_data.get("username")
        if username:
            user = get_user_model()._default_manager.filter(username=username).first()
            refusal = rules.may_sign_in_with_password(
                user,
                username=username,
                password_login=settings.REGISTRY_PASSWORD_LOGIN,
                break_glass_user=settings.REGISTRY_BREAK_GLASS_USER,
            )
            if refusal is not None:
                raise forms.ValidationError(str(refusal), code=refusal.code)
        return super().clean()


class LoginView(auth_views.LoginView):
    """/accounts/login/: the provider's button when one is configured, and the password form (behind
    "break-glass sign-in" when password login is off)."""

    authentication_form = RegistryAuthenticationForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        config = settings.REGISTRY_OIDC
        start = None
        if config:
            start = reverse("sso:authenticate")
            if context.get("next"):
                start += "?" + urlencode({"next": context["next"]}, safe="/")
        context.update(
            sso_provider_name=config["provider_name"] if config else "",
            sso_start_url=start,
            password_login=settings.REGISTRY_PASSWORD_LOGIN,
        )
        return context


class LogoutView(auth_views.LogoutView):
    """/accounts/logout/ (POST): ends the registry session, then the provider's session when the user
    signed in through a provider that has an end_session endpoint (RP-initiated logout)."""

    def post(self, request, *args, **kwargs):
        provider_logout = provider_logout_url(request)  # before the session, and its ID token, are gone
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(provider_logout) if provider_logout else response


def provider_logout_url(request) -> str | None:
    """The provider's end_session URL for this session, or None to sign out locally only (password
    users, a provider without end_session, a provider that cannot be reached)."""
    id_token = request.session.get("oidc_id_token")
    if not (settings.REGISTRY_OIDC and id_token):
        return None
    try:
        end_session = discovery.get().get("end_session_endpoint")
    except discovery.DiscoveryError:
        return None
    if not end_session:
        return None
    params = {
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        # Registered at the provider beside the redirect URI.
        "post_logout_redirect_uri": request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL)),
    }
    return f"{end_session}{'&' if '?' in end_session else '?'}{urlencode(params)}"


# -- the admin follows the same sign-in ---------------------------------------------------------------


@never_cache
def admin_login(request, extra_context=None):
    """/admin/login/: the registry's login page (with its provider button and password rules) when a
    provider is configured; the admin's own login page otherwise, as without single sign-on."""
    if not settings.REGISTRY_OIDC:
        return admin.site.login(request, extra_context)
    target = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("admin:index")
    if admin.site.has_permission(request):
        return HttpResponseRedirect(target)  # already signed in with admin access, as the admin does
    return HttpResponseRedirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': target}, safe='/')}")


@never_cache
def admin_logout(request, extra_context=None):
    """/admin/logout/: the registry's logout (which ends the provider's session too) when a provider
    is configured; the admin's own otherwise."""
    if not settings.REGISTRY_OIDC:
        return admin.site.logout(request, extra_context)
    return LogoutView.as_view()(request)


# -- the provider's pages (/oidc/) ---------------------------------------------------------------------


class AuthenticateView(OIDCAuthenticationRequestView):
    """/oidc/authenticate/: off to the provider with state, nonce and a PKCE challenge (the library's);
    the discovery document is checked first, so a provider that cannot be used gets a page, not a 500."""

    def get(self, request):
        try:
            discovery.get()
        except discovery.DiscoveryError as exc:
            return error_page(
                request, "provider_unavailable", f"The identity provider cannot be used: {exc}.", 503
            )
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """/oidc/callback/ (the redirect URI registered at the provider): every refusal ends on the error
    page with its reason, and nothing is created or changed."""

    failure = ("sign_in_failed", "The sign-in did not complete.", 400)

    def get(self, request):
        if "error" in request.GET:
            error = request.GET["error"]
            self.failure = (
                "provider_error",
                f"The identity provider answered {error!r}: {request.GET.get('error_description', 'no description')}.",
                403 if error == "access_denied" else 400,
            )
        elif "code" in request.GET and "state" in request.GET:
            states = request.session.get("oidc_states")
            if not isinstance(states, dict) or request.GET["state"] not in states:
                # A used callback URL again, or one from a sign-in started in another browser; the
                # library would raise a bare SuspiciousOperation (a 400 without words).
                return error_page(
                    request,
                    "unknown_state",
                    "This answer from the identity provider was already used, or the sign-in was not "
                    "started in this browser. Start the sign-in again.",
                )
        else:
            self.failure = ("no_answer", "This page only takes answers from the identity provider.", 400)
        try:
            return super().get(request)
        except SignInRefused as exc:
            return error_page(request, exc.code, exc.message, exc.status)
        except requests.HTTPError as exc:
            detail = _oauth_error(exc.response)
            return error_page(
                request, "token_refused", f"The identity provider refused the sign-in: {detail}."
            )
        except requests.RequestException as exc:
            return error_page(
                request, "provider_unreachable", f"The identity provider did not answer: {exc}.", 502
            )
        except discovery.DiscoveryError as exc:
            return error_page(
                request, "provider_unavailable", f"The identity provider cannot be used: {exc}.", 503
            )
        except (
            SuspiciousOperation,
            jwt.PyJWTError,
        ) as exc:  # e.g. the library's "JWT Nonce verification failed."
            return error_page(
                request, "invalid_answer", f"The identity provider's answer was rejected: {exc}"
            )

    def login_failure(self):
        return error_page(self.request, *self.failure)

    def login_success(self):
        response = super().login_success()  # auth.login(): a new session key
        # Only now, for the provider's end_session on sign-out (see ProviderBackend.store_tokens).
        self.request.session["oidc_id_token"] = getattr(self.request, "oidc_id_token", None)
        return response


def _oauth_error(response) -> str:
    try:
        body = response.json()
        return f"{body.get('error')}: {body.get('error_description', '')}".strip(": ")
    except ValueError:
        return f"HTTP {response.status_code}"
