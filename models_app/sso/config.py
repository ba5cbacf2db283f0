"""REGISTRY_OIDC_*, REGISTRY_PASSWORD_LOGIN and REGISTRY_BREAK_GLASS_USER -> Django settings.

registry_site/settings.py reads the environment and calls ``provider_config`` and ``sign_in_settings``;
tests call the same two functions to switch sign-in on for one test (pytest-django loads the settings
before any fixture knows the test provider's port). So this module stays pure: it reads no settings
and fetches nothing. The provider's endpoints become lazy settings values, resolved from its discovery
document the first time mozilla-django-oidc uses one (see discovery.py), never at import time.
"""

from __future__ import annotations

from importlib import import_module
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import lazy

DEFAULT_SCOPES = "openid email profile"
DEFAULT_GROUPS_CLAIM = "groups"
DEFAULT_PROVIDER_NAME = "single sign-on"

PROVIDER_BACKEND = "models_app.sso.backend.ProviderBackend"
PASSWORD_POLICY_BACKEND = "models_app.sso.backend.PasswordPolicyBackend"
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def parse_group_map(text: str) -> dict[str, list[str]]:
    """``ml-reviewers=Reviewers,ml-fraud=fraud-team`` -> ``{"ml-reviewers": ["Reviewers"], ...}``.

    One provider group may feed several registry groups (``ml-leads=Reviewers,ml-leads=fraud-team``).
    """
    mapping: dict[str, list[str]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, sep, target = (part.strip() for part in item.partition("="))
        if not sep or not source or not target:
            raise ImproperlyConfigured(
                f"REGISTRY_OIDC_GROUP_MAP: {item!r} is not provider-group=registry-group "
                "(e.g. ml-reviewers=Reviewers,ml-fraud=fraud-team)."
            )
        targets = mapping.setdefault(source, [])
        if target not in targets:
            targets.append(target)
    return mapping


def provider_config(
    *,
    issuer: str,
    client_id: str = "",
    client_secret: str = "",
    scopes: str = DEFAULT_SCOPES,
    groups_claim: str = DEFAULT_GROUPS_CLAIM,
    group_map: str = "",
    provider_name: str = DEFAULT_PROVIDER_NAME,
) -> dict | None:
    """The identity provider as configured, checked; None without an issuer (sign-in stays local)."""
    issuer = issuer.strip()
    if not issuer:
        return None
    parts = urlsplit(issuer)
    loopback = parts.hostname in LOOPBACK_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ImproperlyConfigured("REGISTRY_OIDC_ISSUER must be an https URL (plain http only on loopback).")
    if not parts.hostname or parts.query or parts.fragment:
        raise ImproperlyConfigured("REGISTRY_OIDC_ISSUER must be a URL without query or fragment.")
    client_id = client_id.strip()
    if not client_id or not client_secret:
        raise ImproperlyConfigured(
            "REGISTRY_OIDC_CLIENT_ID and REGISTRY_OIDC_CLIENT_SECRET are required with REGISTRY_OIDC_ISSUER."
        )
    scopes = " ".join(scopes.split()) or DEFAULT_SCOPES
    if "openid" not in scopes.split():
        raise ImproperlyConfigured("REGISTRY_OIDC_SCOPES must include openid.")
    return {
        # Compared as an exact string with the discovery document and the ID token's iss, as OpenID
        # Connect requires: a trailing slash matters.
        "issuer": issuer,
        "origin": f"{parts.scheme}://{parts.netloc}",
        "client_id": client_id,
        "client_secret": client_secret,
        "scopes": scopes,
        "groups_claim": groups_claim.strip() or DEFAULT_GROUPS_CLAIM,
        "group_map": parse_group_map(group_map),
        "provider_name": provider_name.strip() or DEFAULT_PROVIDER_NAME,
    }


def _discovered(key: str) -> str:
    # Imported at first use: by then the settings are loaded and discovery may read them.
    return import_module("models_app.sso.discovery").endpoint(key)


_lazy_endpoint = lazy(_discovered, str)


def _library_settings(provider: dict) -> dict:
    """mozilla-django-oidc's settings for ``provider``; the comments say where they differ from its defaults."""
    return {
        "OIDC_RP_CLIENT_ID": provider["client_id"],
        "OIDC_RP_CLIENT_SECRET": provider["client_secret"],
        "OIDC_RP_SCOPES": provider["scopes"],
        # The library's default is HS256 (a shared secret); providers sign ID tokens with their own keys.
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_USE_NONCE": True,
        # Off by default in the library.
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        # client_secret_basic, OpenID Connect's default; the library's default is client_secret_post.
        "OIDC_TOKEN_USE_BASIC_AUTH": True,
        "OIDC_CREATE_USER": True,
        "OIDC_TIMEOUT": 10,
        "OIDC_AUTHENTICATION_CALLBACK_URL": "sso:callback",
        # Resolved from <issuer>/.well-known/openid-configuration when first used.
        "OIDC_OP_AUTHORIZATION_ENDPOINT": _lazy_endpoint("authorization_endpoint"),
        "OIDC_OP_TOKEN_ENDPOINT": _lazy_endpoint("token_endpoint"),
        "OIDC_OP_USER_ENDPOINT": _lazy_endpoint("userinfo_endpoint"),
        "OIDC_OP_JWKS_ENDPOINT": _lazy_endpoint("jwks_uri"),
    }


def sign_in_settings(
    *,
    provider: dict | None,
    password_login: bool = True,
    break_glass_user: str = "",
    backends: list[str],
    csp: dict,
) -> dict:
    """Every setting that sign-in adds or changes, given the settings it builds on.

    Without a provider: ``REGISTRY_OIDC = None`` and the two password switches; the /oidc/ pages
    answer 404, the login page shows no provider button, and the backends and the CSP stay as they
    are. Password login can only be turned off when there is a provider to sign in with instead.
    """
    values = {
        # The secret lives in OIDC_RP_CLIENT_SECRET only.
        "REGISTRY_OIDC": None
        if provider is None
        else {k: v for k, v in provider.items() if k != "client_secret"},
        "REGISTRY_PASSWORD_LOGIN": password_login,
        "REGISTRY_BREAK_GLASS_USER": break_glass_user.strip(),
    }
    if provider is None:
        if not password_login:
            raise ImproperlyConfigured(
                "REGISTRY_PASSWORD_LOGIN=0 needs REGISTRY_OIDC_ISSUER: without an identity provider only "
                "the break-glass user could sign in."
            )
        return values
    backends = list(backends)
    if not password_login:
        # Before the password check: a refused account's password is never even compared.
        at = backends.index(PASSWORD_BACKEND) if PASSWORD_BACKEND in backends else len(backends)
        backends.insert(at, PASSWORD_POLICY_BACKEND)
    directives = dict(csp.get("DIRECTIVES", {}))
    # The sign-out form posts to the registry, which answers with a redirect to the provider's
    # end_session endpoint; browsers apply form-action to that redirect, so the provider's origin
    # must be allowed or the provider session silently survives the sign-out.
    directives["form-action"] = [*directives.get("form-action", ["'self'"]), provider["origin"]]
    return {
        **values,
        **_library_settings(provider),
        "AUTHENTICATION_BACKENDS": [*backends, PROVIDER_BACKEND],
        "CONTENT_SECURITY_POLICY": {**csp, "DIRECTIVES": directives},
    }
