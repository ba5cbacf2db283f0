"""REGISTRY_OIDC_* and the password switches -> settings; without an issuer nothing changes at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from models_app.sso.config import parse_group_map, provider_config, sign_in_settings

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"issuer": "https://idp.example/realms/ml", "client_id": "registry", "client_secret": "s3cret"}


def test_the_group_map_maps_provider_groups_to_registry_groups():
    assert parse_group_map(
        " ml-reviewers=Reviewers, ml-fraud=fraud-team,ml-leads=Reviewers,ml-leads=fraud-team,"
    ) == {
        "ml-reviewers": ["Reviewers"],
        "ml-fraud": ["fraud-team"],
        "ml-leads": ["Reviewers", "fraud-team"],
    }
    assert parse_group_map("") == {}
    for bad in ("ml-reviewers", "=Reviewers", "ml-reviewers="):
        with pytest.raises(ImproperlyConfigured, match="REGISTRY_OIDC_GROUP_MAP"):
            parse_group_map(bad)


def test_the_provider_configuration_has_defaults_and_refuses_what_cannot_work():
    config = provider_config(**REQUIRED)
    assert (config["scopes"], config["groups_claim"], config["provider_name"]) == (
        "openid email profile",
        "groups",
        "single sign-on",
    )
    assert config["origin"] == "https://idp.example"
    assert provider_config(issuer="") is None
    refused = [
        ({"client_secret": ""}, "REGISTRY_OIDC_CLIENT_SECRET"),
        ({"client_id": " "}, "REGISTRY_OIDC_CLIENT_ID"),
        ({"issuer": "http://idp.example"}, "https URL"),  # plain http only on loopback
        ({"issuer": "https://idp.example/?tenant=1"}, "without query"),
        ({"scopes": "email profile"}, "must include openid"),
    ]
    for change, message in refused:
        with pytest.raises(ImproperlyConfigured, match=message):
            provider_config(**{**REQUIRED, **change})
    assert (
        provider_config(**{**REQUIRED, "issuer": "http://127.0.0.1:9000"})["origin"]
        == "http://127.0.0.1:9000"
    )


def test_switching_it_on_adds_the_backend_the_library_settings_and_the_csp_origin():
    csp = {"DIRECTIVES": {"default-src": ["'self'"], "form-action": ["'self'"]}}
    backends = ["registry_site.security.LoginAttemptBackend", "django.contrib.auth.backends.ModelBackend"]
    values = sign_in_settings(provider=provider_config(**REQUIRED), backends=backends, csp=csp)
    assert values["AUTHENTICATION_BACKENDS"] == [*backends, "models_app.sso.backend.ProviderBackend"]
    assert values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["form-action"] == ["'self'", "https://idp.example"]
    assert csp["DIRECTIVES"]["form-action"] == ["'self'"]  # the base policy is not modified in place
    assert (values["OIDC_USE_PKCE"], values["OIDC_USE_NONCE"], values["OIDC_RP_SIGN_ALGO"]) == (
        True,
        True,
        "RS256",
    )
    assert values["OIDC_RP_CLIENT_SECRET"] == "s3cret" and "client_secret" not in values["REGISTRY_OIDC"]

    off = sign_in_settings(
        provider=provider_config(**REQUIRED),
        password_login=False,
        break_glass_user="root",
        backends=backends,
        csp=csp,
    )
    assert off["AUTHENTICATION_BACKENDS"] == [
        "registry_site.security.LoginAttemptBackend",
        "models_app.sso.backend.PasswordPolicyBackend",
        "django.contrib.auth.backends.ModelBackend",
        "models_app.sso.backend.ProviderBackend",
    ]
    with pytest.raises(ImproperlyConfigured, match="REGISTRY_PASSWORD_LOGIN=0 needs REGISTRY_OIDC_ISSUER"):
        sign_in_settings(provider=None, password_login=False, backends=backends, csp=csp)


def settings_py(env: dict, code: str) -> dict:
    """Run ``code`` after settings.py loaded in a fresh interpreter with exactly ``env`` for sign-in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_OIDC_", "REGISTRY_PASSWORD_"))}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, json\ndjango.setup()\nfrom django.conf import settings\n" + code,
        ],
        env={**base, "DJANGO_SETTINGS_MODULE": "registry_site.settings", "DJANGO_DEBUG": "1", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_an_issuer_nothing_changes():
    seen = settings_py(
        {},
        """
from django.test import Client
c = Client()
print(json.dumps({
    "backends": settings.AUTHENTICATION_BACKENDS,
    "form_action": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"],
    "oidc": settings.REGISTRY_OIDC,
    "library_settings": sorted(n for n in dir(settings) if n.startswith("OIDC_")),
    "status": [c.get(p).status_code for p in ("/oidc/authenticate/", "/oidc/callback/?code=x&state=y")],
    "button": "Sign in with" in c.get("/accounts/login/").content.decode(),
    "admin_login": c.get("/admin/login/").status_code,
}))
""",
    )
    assert seen == {
        "backends": [
            "registry_site.security.LoginAttemptBackend",
            "django.contrib.auth.backends.ModelBackend",
        ],
        "form_action": ["'self'"],
        "oidc": None,
        "library_settings": [],
        "status": [404, 404],
        "button": False,
        "admin_login": 200,
    }


def test_with_an_issuer_settings_py_switches_it_on_without_fetching_anything():
    seen = settings_py(
        {
            "REGISTRY_OIDC_ISSUER": "https://idp.example/realms/ml",
            "REGISTRY_OIDC_CLIENT_ID": "registry",
            # Read as written: django-environ would look up a variable named "ecret-from-the-idp".
            "REGISTRY_OIDC_CLIENT_SECRET": "$ecret-from-the-idp",
            "REGISTRY_OIDC_GROUP_MAP": "ml-reviewers=Reviewers",
            "REGISTRY_OIDC_PROVIDER_NAME": "Acme SSO",
            "REGISTRY_PASSWORD_LOGIN": "0",
            "REGISTRY_BREAK_GLASS_USER": "root",
        },
        """
from models_app.sso import discovery
print(json.dumps({
    "backend": settings.AUTHENTICATION_BACKENDS[-1],
    "form_action": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"],
    "provider": settings.REGISTRY_OIDC["provider_name"],
    "map": settings.REGISTRY_OIDC["group_map"],
    "secret": settings.OIDC_RP_CLIENT_SECRET,
    "password_login": settings.REGISTRY_PASSWORD_LOGIN,
    "break_glass": settings.REGISTRY_BREAK_GLASS_USER,
    "fetched": discovery._cache["doc"] is not None,
}))
""",
    )
    assert seen == {
        "backend": "models_app.sso.backend.ProviderBackend",
        "form_action": ["'self'", "https://idp.example"],
        "provider": "Acme SSO",
        "map": {"ml-reviewers": ["Reviewers"]},
        "secret": "$ecret-from-the-idp",
        "password_login": False,
        "break_glass": "root",
        "fetched": False,
    }


def test_every_sign_in_variable_is_documented_in_the_operations_table():
    table = (ROOT / "docs" / "operations.md").read_text()
    settings_py_text = (ROOT / "registry_site" / "settings.py").read_text()
    names = [
        "REGISTRY_OIDC_ISSUER",
        "REGISTRY_OIDC_CLIENT_ID",
        "REGISTRY_OIDC_CLIENT_SECRET",
        "REGISTRY_OIDC_SCOPES",
        "REGISTRY_OIDC_GROUPS_CLAIM",
        "REGISTRY_OIDC_GROUP_MAP",
        "REGISTRY_OIDC_PROVIDER_NAME",
        "REGISTRY_PASSWORD_LOGIN",
        "REGISTRY_BREAK_GLASS_USER",
    ]
    for name in names:
        assert f"| `{name}` |" in table, name
        assert f'"{name}"' in settings_py_text, name
