"""API token issue and lookup. The plaintext is shown once; only its SHA-256 is kept."""

from __future__ import annotations

import copy
import hashlib
import secrets
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from models_app.exceptions import InvalidInput, ModelAlreadyExists
from models_app.models import ApiToken
from models_app.roles import _GROUPS_CACHE, group_names_by_id

TOKEN_PREFIX = "mr_"


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def api_token_create(*, user, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Issue a token for ``user``; returns (record, plaintext). The plaintext is not stored."""
    name = (name or "").strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise InvalidInput("Token name must be 1-100 printable characters.", field="name")
    if expires_in_days is not None and not (1 <= expires_in_days <= 3650):
        raise InvalidInput("Must be between 1 and 3650 days.", field="expires_in_days")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=user,
                name=name,
                prefix=plaintext[:10],
                token_hash=hash_token(plaintext),
                expires_at=expires_at,
            )
    except IntegrityError:
        raise ModelAlreadyExists(
            f"{user.get_username()} already has a token named '{name}'.", field="name"
        ) from None
    return token, plaintext


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token at once; revoked tokens stay listed for the record."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# Per process: token hash -> (monotonic expiry, token, user with its groups and permissions read). A repeated
# request by the same token then costs no query for who is calling. Revocation, deactivation and role changes
# made elsewhere take effect within REGISTRY_AUTH_CACHE_SECONDS; made in this process (the services below, the
# admin, signals), at once. Expiry dates are checked on every request against the cached token.
_CACHE: dict[str, tuple[float, ApiToken, User]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 4096
_clock = time.monotonic


def auth_cache_clear() -> None:
    """Forget every cached token (this process)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _cache_seconds() -> float:
    return float(getattr(settings, "REGISTRY_AUTH_CACHE_SECONDS", 0) or 0)


def _cached(digest: str) -> ApiToken | None:
    entry = _CACHE.get(digest)
    if entry is None:
        return None
    expires, token, user = entry
    if _clock() >= expires:
        _CACHE.pop(digest, None)
        return None
    # Fresh copies per request: threads of one process never share a mutable user or token object.
    user_copy = copy.copy(user)
    setattr(user_copy, _GROUPS_CACHE, dict(getattr(user, _GROUPS_CACHE)))
    user_copy._perm_cache = set(user._perm_cache)
    token_copy = copy.copy(token)
    token_copy.user = user_copy
    return token_copy


def _remember(digest: str, token: ApiToken) -> None:
    group_names_by_id(token.user)  # the groups and permissions, in the one query the request needs anyway
    user = copy.copy(token.user)
    setattr(user, _GROUPS_CACHE, dict(getattr(token.user, _GROUPS_CACHE)))
    user._perm_cache = set(getattr(token.user, "_perm_cache", set()))
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            now = _clock()
            for key in [k for k, (expires, _, _) in _CACHE.items() if expires <= now]:
                del _CACHE[key]
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.clear()
        stored = copy.copy(token)
        stored.user = user
        _CACHE[digest] = (_clock() + _cache_seconds(), stored, user)


def api_token_authenticate(plaintext: str) -> ApiToken | None:
    """The usable token matching ``plaintext``, or None."""
    digest = hash_token(plaintext)
    ttl = _cache_seconds()
    token = _cached(digest) if ttl > 0 else None
    cached = token is not None
    if token is None:
        token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    if token is None or not token.is_usable() or not token.user.is_active:
        if cached:
            _CACHE.pop(digest, None)
        return None
    now = timezone.now()
    # Writing on every request would make reads contend; minute resolution is enough.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        cached = False
    if ttl > 0 and not cached:
        _remember(digest, token)
    return token


@receiver(post_save, sender=ApiToken)
@receiver(post_delete, sender=ApiToken)
@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
@receiver(post_delete, sender=Group)
@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
@receiver(m2m_changed, sender=Group.permissions.through)
def _forget_tokens(sender, **kwargs) -> None:
    """A token, user, group or permission changed in this process: the next request reads them again."""
    auth_cache_clear()
