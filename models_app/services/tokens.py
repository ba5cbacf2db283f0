"""API token issue and lookup. The plaintext is shown once; only its SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from models_app.exceptions import InvalidInput, ModelAlreadyExists
from models_app.models import ApiToken

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


def api_token_authenticate(plaintext: str) -> ApiToken | None:
    """The usable token matching ``plaintext``, or None."""
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(plaintext)).first()
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    now = timezone.now()
    # Writing on every request would make reads contend; minute resolution is enough.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
