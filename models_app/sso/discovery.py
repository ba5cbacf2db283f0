"""The identity provider's discovery document, fetched at first use and cached per process.

mozilla-django-oidc wants its endpoints as settings and has no discovery of its own; the settings hold
lazy values that call ``endpoint`` here (config.py). Nothing is fetched at start-up or for password
sign-ins, so the registry starts and password users sign in while the provider is down.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from django.conf import settings

log = logging.getLogger("models_app.sign_in")

CACHE_SECONDS = 3600
RETRY_AFTER_FAILURE_SECONDS = 10
REQUIRED = ("authorization_endpoint", "token_endpoint", "jwks_uri")

_lock = threading.Lock()
_cache: dict = {"doc": None, "issuer": None, "fetched_at": 0.0, "failed_at": 0.0, "error": None}


class DiscoveryError(Exception):
    """The discovery document could not be read, or it does not describe the configured issuer."""


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _fetch(issuer: str) -> dict:
    url = discovery_url(issuer)
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        doc = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DiscoveryError(f"could not read {url}: {exc}") from exc
    if not isinstance(doc, dict):
        raise DiscoveryError(f"{url} is not a JSON object")
    # OpenID Connect Discovery 1.0, section 4.3: the document's issuer MUST be exactly the configured one.
    if doc.get("issuer") != issuer:
        raise DiscoveryError(
            f"the discovery document names the issuer {doc.get('issuer')!r}, not the configured {issuer!r}"
        )
    missing = [key for key in REQUIRED if not doc.get(key)]
    if missing:
        raise DiscoveryError(f"the discovery document has no {', '.join(missing)}")
    if settings.OIDC_RP_SIGN_ALGO not in (doc.get("id_token_signing_alg_values_supported") or []):
        raise DiscoveryError(f"the provider does not sign ID tokens with {settings.OIDC_RP_SIGN_ALGO}")
    methods = doc.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise DiscoveryError("the provider does not support PKCE with S256")
    return doc


def get() -> dict:
    """The provider's discovery document (cached for an hour; a good copy outlives a failed refresh)."""
    issuer = settings.REGISTRY_OIDC["issuer"]
    now = time.monotonic()
    with _lock:
        if _cache["issuer"] != issuer:  # another provider configured: nothing cached applies
            _cache.update(doc=None, issuer=issuer, fetched_at=0.0, failed_at=0.0, error=None)
        held = _cache["doc"]
        if held is not None and now - _cache["fetched_at"] < CACHE_SECONDS:
            return held
        # A provider that is down is not asked again on every sign-in attempt.
        if _cache["error"] and now - _cache["failed_at"] < RETRY_AFTER_FAILURE_SECONDS:
            if held is not None:
                return held
            raise DiscoveryError(_cache["error"])
        try:
            doc = _fetch(issuer)
        except DiscoveryError as exc:
            log.warning("OpenID Connect discovery failed: %s", exc)
            _cache.update(error=str(exc), failed_at=now)
            if held is not None:
                return held  # a provider blip must not break sign-in while a good copy is at hand
            raise
        _cache.update(doc=doc, fetched_at=now, error=None, failed_at=0.0)
        return doc


def endpoint(key: str) -> str:
    """One endpoint from the discovery document (``token_endpoint``, ``jwks_uri``, ...)."""
    value = get().get(key)
    if not value:
        raise DiscoveryError(f"the discovery document has no {key}")
    return value


def clear() -> None:
    """Forget the cached document (tests, and a changed configuration)."""
    with _lock:
        _cache.update(doc=None, issuer=None, fetched_at=0.0, failed_at=0.0, error=None)
