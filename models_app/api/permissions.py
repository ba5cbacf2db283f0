"""Who may call the API at all (``rules.may_use_registry``). What each caller may change is decided by
the services."""

from rest_framework.permissions import BasePermission

from models_app import rules


class HasRegistryRole(BasePermission):
    """Authenticated (else 401) and holding a registry role or superuser (else 403)."""

    message = rules.NO_ROLE_MESSAGE

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            # DRF answers 401 with the WWW-Authenticate challenge for unauthenticated callers.
            return False
        return rules.may_use_registry(user) is None
