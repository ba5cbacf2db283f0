"""Sign-in through the company's identity provider: the registry user behind a provider subject, and
the roles and teams that follow the provider's groups at every sign-in, each change recorded."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from models_app import rules
from models_app.choices import AdminAccessChange, Role
from models_app.models import OIDCIdentity, RoleSyncRecord
from models_app.ops.context import current_request_id

log = logging.getLogger("models_app.sign_in")

USERNAME_MAX = 150
_NOT_IN_USERNAMES = re.compile(r"[^\w.@+-]")


def identity_sign_in(
    *,
    issuer: str,
    subject: str,
    provider_groups: Iterable[str],
    group_map: Mapping[str, Iterable[str]],
    profile: Mapping[str, str] | None = None,
    claims: Mapping | None = None,
):
    """The registry user the provider vouched for, with roles and teams set from its groups.

    The user is found by (``issuer``, ``subject``) and created at the first sign-in (named after
    ``profile["username"]``, never adopting an existing local account of that name, with no usable
    password). Only the groups that ``group_map`` maps to are managed: each is added when one of
    ``provider_groups`` maps to it and removed when none does; other groups are left alone. When the
    map manages Governance, admin access (``is_staff``) follows it (superusers keep theirs). Map targets
    that do not exist are skipped (a typo must not create a team) and logged.

    One transaction: a deactivated account is refused (``rules.may_sign_in``) before anything changes;
    otherwise the profile is refreshed, the groups are set and, when the user was created or anything
    about their roles changed, a ``RoleSyncRecord`` is appended. Returns ``(user, record or None)``.
    """
    provider_groups = list(provider_groups)
    group_map = {source: list(targets) for source, targets in group_map.items()}
    try:
        return _sign_in(issuer, subject, provider_groups, group_map, dict(profile or {}), dict(claims or {}))
    except IntegrityError:
        # Two first sign-ins of one subject (or of two people with one name) raced and the other
        # committed first; a second pass finds that user or picks a free name.
        return _sign_in(issuer, subject, provider_groups, group_map, dict(profile or {}), dict(claims or {}))


@transaction.atomic
def _sign_in(issuer, subject, provider_groups, group_map, profile, claims):
    User = get_user_model()
    now = timezone.now()
    user = (
        User.objects.select_for_update()
        .filter(oidc_identity__issuer=issuer, oidc_identity__subject=subject)
        .first()
    )
    created = user is None
    if created:
        # No password argument: the account gets an unusable one and can only sign in through the provider.
        user = User.objects.create_user(_free_username(User, profile.get("username"), issuer, subject))
        identity = OIDCIdentity.objects.create(user=user, issuer=issuer, subject=subject, created_at=now)
    else:
        rules.refuse(rules.may_sign_in(user))
        identity = OIDCIdentity.objects.get(user=user)

    for field in ("email", "first_name", "last_name"):
        if profile.get(field):
            setattr(user, field, profile[field][: User._meta.get_field(field).max_length])

    managed = {name for targets in group_map.values() for name in targets}
    wanted = {name for group in provider_groups for name in group_map.get(group, ())}
    existing = {group.name: group for group in Group.objects.filter(name__in=managed)}
    for name in sorted(wanted - existing.keys()):
        log.warning("REGISTRY_OIDC_GROUP_MAP names the group %r, which does not exist; it is skipped", name)
    current = set(user.groups.filter(name__in=managed).values_list("name", flat=True))
    added = sorted((wanted & existing.keys()) - current)
    removed = sorted(current - wanted)
    if added:
        user.groups.add(*(existing[name] for name in added))
    if removed:
        user.groups.remove(*(existing[name] for name in removed))

    admin_access = ""
    if Role.GOVERNANCE in managed and not user.is_superuser:
        staff = Role.GOVERNANCE in (current - set(removed)) | set(added)
        if staff != user.is_staff:
            user.is_staff = staff
            admin_access = AdminAccessChange.GRANTED if staff else AdminAccessChange.REVOKED
    user.save(update_fields=["email", "first_name", "last_name", "is_staff"])

    identity.last_sign_in_at = now
    identity.last_claims = claims
    identity.save(update_fields=["last_sign_in_at", "last_claims"])

    record = None
    if created or added or removed or admin_access:
        record = RoleSyncRecord.objects.create(
            user=user,
            username=user.get_username(),
            issuer=issuer,
            subject=subject,
            provider_groups=provider_groups,
            groups_added=added,
            groups_removed=removed,
            admin_access=admin_access,
            account_created=created,
            request_id=current_request_id(),
            created_at=now,
        )
        log.info(
            "sign-in %s %s: groups added %s, removed %s%s",
            "created" if created else "changed the roles of",
            user.get_username(),
            added,
            removed,
            f", admin access {admin_access}" if admin_access else "",
            extra={
                "event": "role_sync",
                "user": user.get_username(),
                "subject": subject,
                "groups_added": added,
                "groups_removed": removed,
                "admin_access": admin_access,
                "account_created": created,
            },
        )
    return user, record


def _free_username(User, wanted: str | None, issuer: str, subject: str) -> str:
    """``wanted`` made a valid username; with a suffix drawn from the subject when the name is taken.

    An existing account of the same name is never adopted: it may be a local account of somebody else.
    """
    base = _NOT_IN_USERNAMES.sub("-", (wanted or "").strip())[: USERNAME_MAX - 17] or "user"
    if not User.objects.filter(username=base).exists():
        return base
    digest = hashlib.sha256(f"{issuer} {subject}".encode()).hexdigest()
    for length in (8, 16):
        candidate = f"{base}-{digest[:length]}"
        if not User.objects.filter(username=candidate).exists():
            return candidate
    raise IntegrityError(f"no free username for subject {subject!r}")
