"""Sign-in through the company's identity provider: which registry user a provider subject is, and the
append-only record of the role and team changes that sign-ins made."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from models_app.choices import AdminAccessChange
from models_app.exceptions import AppendOnlyViolation
from models_app.models.querysets import LedgerQuerySet


class OIDCIdentity(models.Model):
    """The provider's subject (``sub``) behind a registry user.

    Users are matched by (issuer, subject) and never by e-mail: an address can be given to someone
    else, a subject cannot. A user has at most one identity; a user without one signs in with a password.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="oidc_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)
    # What the provider said about the user at the last sign-in (subject, e-mail, name, groups).
    last_claims = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "sign-in identity"
        verbose_name_plural = "sign-in identities"
        ordering = ["issuer", "subject"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="models_app_oidcidentity_unique_subject"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class RoleSyncRecord(models.Model):
    """One sign-in that created a user or changed their roles, teams or admin access: who, which
    groups the provider sent, what was added and removed, and when.

    Written by the sign-in service in the transaction of the change and never updated or deleted: not
    by the ORM, not in the admin, and on PostgreSQL not by raw SQL either.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Kept as text so the row reads right even if the user is renamed later.
    username = models.CharField(max_length=150)
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    provider_groups = models.JSONField(default=list, blank=True, help_text="The groups claim as received.")
    groups_added = models.JSONField(default=list, blank=True)
    groups_removed = models.JSONField(default=list, blank=True)
    admin_access = models.CharField(max_length=8, choices=AdminAccessChange, blank=True)
    account_created = models.BooleanField(default=False)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # The ledger's guard: rows are appended, never updated or deleted in bulk.
    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "role change from sign-in"
        verbose_name_plural = "role changes from sign-in"
        constraints = [
            models.CheckConstraint(
                condition=Q(admin_access__in=["", *AdminAccessChange.values]),
                name="models_app_rolesyncrecord_admin_access_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "created_at"], name="models_app_rolesync_user_time"),
            models.Index(fields=["created_at"], name="models_app_rolesync_time"),
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"roles of {self.username} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation()
