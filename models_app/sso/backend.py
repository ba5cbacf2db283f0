"""The authentication backends of signing in.

``ProviderBackend`` is mozilla-django-oidc's backend. The library already does the token request
(with the PKCE code_verifier), the ID token's signature against the provider's keys, its nonce and
its expiry. This class adds what the library does not do: the ``iss`` and ``aud`` checks (it passes
``verify_aud=False`` and no issuer), userinfo's ``sub`` compared with the ID token's, the groups claim
from the ID token or userinfo, reasons instead of silent redirects and 500s, and hands the verified
answer to ``services.identity_sign_in``, which matches the user by subject and sets their groups.

``PasswordPolicyBackend`` is the gate in front of the password check when REGISTRY_PASSWORD_LOGIN is off.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from models_app import rules, services
from models_app.exceptions import RegistryError
from models_app.sso import discovery

log = logging.getLogger("models_app.sign_in")

CLOCK_LEEWAY_SECONDS = 60
REQUIRED_ID_TOKEN_CLAIMS = ["iss", "sub", "aud", "exp", "iat"]
# Claims of the ID token that describe the token itself; userinfo must not override them.
TOKEN_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "auth_time")


class SignInRefused(Exception):
    """An answer from the provider that the registry refuses, with a reason code for the error page.

    Deliberately not a SuspiciousOperation: mozilla-django-oidc swallows those inside
    ``get_or_create_user`` and answers with a bare redirect; this one travels through
    ``auth.authenticate()`` (which only stops PermissionDenied) up to the callback view.
    """

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def provider_groups(claims: dict, claim: str) -> list[str]:
    """The groups the provider sent: a list of names (one name is taken as a list of one).

    A *missing* claim is refused, because it cannot be told from a provider that stopped releasing
    it; an empty list is an answer (no groups, so no mapped roles).
    """
    if claim not in claims:
        raise SignInRefused(
            "missing_groups_claim",
            f"The identity provider sent no {claim!r} claim, so the registry cannot tell your roles and "
            "teams. Ask the provider's administrators to release it to this application.",
            status=403,
        )
    value = claims[claim]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(group, str) for group in value):
        raise SignInRefused("malformed_groups_claim", f"The {claim!r} claim is not a list of group names.")
    return value


def _profile(claims: dict) -> dict[str, str]:
    given, family = claims.get("given_name"), claims.get("family_name")
    profile = {
        "username": claims.get("preferred_username") or (claims.get("email") or "").split("@")[0],
        "email": claims.get("email") or "",
        "first_name": given or ("" if family else claims.get("name") or ""),
        "last_name": family or "",
    }
    return {key: value for key, value in profile.items() if isinstance(value, str)}


class ProviderBackend(OIDCAuthenticationBackend):
    """Signs in the user the identity provider vouches for (see the module docstring)."""

    def authenticate(self, request, **kwargs):
        # Only the callback view passes a nonce: a password sign-in never reaches the provider.
        if request is None or "nonce" not in kwargs:
            return None
        return super().authenticate(request, **kwargs)

    def get_user(self, user_id):
        # The library's get_user skips the is_active check, so a deactivated user's session would
        # outlive the deactivation; Django's own check ends it on the next request.
        return ModelBackend.get_user(self, user_id)

    # -- the ID token: signature and nonce by the library, iss/aud/exp/iat here -------------------------

    def _verify_jws(self, payload, key):
        try:
            header = jwt.get_unverified_header(payload)
        except jwt.PyJWTError as exc:
            raise SignInRefused("malformed_id_token", f"The ID token is not a JWT ({exc}).") from exc
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SignInRefused(
                "wrong_algorithm",
                f"The ID token is signed with {header.get('alg')!r}, not {self.OIDC_RP_SIGN_ALGO}.",
            )
        issuer = settings.REGISTRY_OIDC["issuer"]
        try:
            claims = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": REQUIRED_ID_TOKEN_CLAIMS},
            )
        except jwt.InvalidSignatureError as exc:
            raise SignInRefused(
                "bad_signature", "The ID token's signature does not verify with the provider's keys."
            ) from exc
        except jwt.ExpiredSignatureError as exc:
            raise SignInRefused(
                "expired_id_token",
                "The ID token has expired (check the clocks of the registry and the provider).",
            ) from exc
        except jwt.ImmatureSignatureError as exc:
            raise SignInRefused(
                "id_token_not_yet_valid", "The ID token is not valid yet (check the clocks)."
            ) from exc
        except jwt.InvalidIssuerError as exc:
            said = jwt.decode(payload, options={"verify_signature": False}).get("iss")
            raise SignInRefused(
                "wrong_issuer",
                f"The ID token was issued by {said!r}, not by the configured issuer {issuer!r}.",
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise SignInRefused("wrong_audience", "The ID token was issued for another application.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise SignInRefused(
                "incomplete_id_token", f"The ID token lacks the {exc.claim!r} claim."
            ) from exc
        except jwt.PyJWTError as exc:
            raise SignInRefused("invalid_id_token", f"The ID token is invalid ({exc}).") from exc
        audience = claims["aud"]
        # OpenID Connect Core 3.1.3.7: with several audiences, azp must name this client.
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SignInRefused(
                "wrong_audience", "The ID token names several audiences and not this application as azp."
            )
        return claims

    def retrieve_matching_jwk(self, token):
        try:
            return super().retrieve_matching_jwk(token)
        except Exception as exc:  # "Could not find a valid JWKS." (SuspiciousOperation), HTTP errors
            raise SignInRefused(
                "no_signing_key", f"No key of the provider matches the ID token ({exc})."
            ) from exc

    def get_token(self, payload):
        # RFC 6749 section 2.3.1: client_id and secret are form-urlencoded before they go into HTTP
        # Basic. The library's OIDC_TOKEN_USE_BASIC_AUTH skips that, so a secret with ':', '%' or '+'
        # would be refused by a conforming provider.
        data = {key: value for key, value in payload.items() if key not in ("client_id", "client_secret")}
        response = requests.post(
            self.OIDC_OP_TOKEN_ENDPOINT,
            data=data,
            auth=(quote(payload["client_id"], safe=""), quote(payload["client_secret"], safe="")),
            verify=self.get_settings("OIDC_VERIFY_SSL", True),
            timeout=self.get_settings("OIDC_TIMEOUT", None),
            proxies=self.get_settings("OIDC_PROXY", None),
        )
        self.raise_token_response_error(response)
        return response.json()

    def store_tokens(self, access_token, id_token):
        # The library writes the ID token into the session before the user is even matched, so a
        # refused sign-in would leave it there; the callback view stores it once sign-in succeeded.
        self.request.oidc_id_token = id_token

    # -- the user: claims from the ID token and userinfo, matched and synced by the service ------------

    def get_userinfo(self, access_token, id_token, payload):
        claims = dict(payload)
        if discovery.get().get("userinfo_endpoint"):
            userinfo = super().get_userinfo(access_token, id_token, payload)
            # OpenID Connect Core 5.3.2: a userinfo answer about another subject MUST be discarded.
            if not isinstance(userinfo, dict) or userinfo.get("sub") != payload.get("sub"):
                raise SignInRefused("userinfo_mismatch", "The provider's userinfo is about another subject.")
            claims.update({key: value for key, value in userinfo.items() if key not in TOKEN_CLAIMS})
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        config = settings.REGISTRY_OIDC
        claims = self.get_userinfo(access_token, id_token, payload)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise SignInRefused("no_subject", "The identity provider sent no subject (sub).")
        groups = provider_groups(claims, config["groups_claim"])
        kept = ("sub", "email", "name", "preferred_username", config["groups_claim"])
        try:
            user, _ = services.identity_sign_in(
                issuer=config["issuer"],
                subject=subject,
                provider_groups=groups,
                group_map=config["group_map"],
                profile=_profile(claims),
                claims={key: claims[key] for key in kept if key in claims},
            )
        except RegistryError as exc:
            raise SignInRefused(exc.code, str(exc), status=403) from exc
        return user


class PasswordPolicyBackend:
    """The password gate when REGISTRY_PASSWORD_LOGIN is off (``sign_in_settings`` puts it just before
    Django's ModelBackend): anyone but the break-glass superuser is refused before their password is
    compared. Its refusal stops ``authenticate()``, which records a failed login (django-axes counts it).
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is None:
            return None  # not a password sign-in (the provider's callback)
        user_model = get_user_model()
        username = username or kwargs.get(user_model.USERNAME_FIELD) or ""
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        refusal = rules.may_sign_in_with_password(
            user,
            username=username,
            password_login=settings.REGISTRY_PASSWORD_LOGIN,
            break_glass_user=settings.REGISTRY_BREAK_GLASS_USER,
        )
        if refusal is not None:
            raise PermissionDenied(str(refusal))
        return None

    def get_user(self, user_id):
        return None  # it never signs anyone in
