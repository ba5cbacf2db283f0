"""API throttles: a budget per token (per user for browser sessions) and per address for anonymous callers.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (env ``REGISTRY_API_THROTTLE_RATE`` and
``REGISTRY_API_THROTTLE_ANON_RATE``), read at each request so a settings change applies at once. A caller
over budget gets 429 in the standard error shape with ``Retry-After``. How requests are counted:
``models_app.ops.throttle``.
"""

from models_app.models import ApiToken
from models_app.ops.throttle import WindowedRateThrottle


class TokenRateThrottle(WindowedRateThrottle):
    """One budget per API token; two tokens of one user have two budgets, as two pipelines would."""

    scope = "token"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(WindowedRateThrottle):
    """Anonymous callers share one budget per client address."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
