"""The sign-in service, its rules and its records, without a browser: matching by subject, the groups
it manages and those it leaves alone, admin access following Governance, and the append-only record."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection, transaction
from django.db.utils import DatabaseError

from models_app import rules, services
from models_app.choices import AdminAccessChange
from models_app.exceptions import AccountDeactivated, AppendOnlyViolation, PasswordSignInOff
from models_app.models import OIDCIdentity, RoleSyncRecord
from models_app.role_permissions import ROLE_PERMISSIONS
from tests.conftest import make_user

ISSUER = "https://idp.example"
MAP = {
    "ml-reviewers": ["Reviewers"],
    "ml-gov": ["Governance"],
    "ml-fraud": ["fraud-team"],
    "ml-typo": ["Reviewres"],
}


def sign_in(subject="u-1", groups=(), username="alice", **profile):
    user, record = services.identity_sign_in(
        issuer=ISSUER,
        subject=subject,
        provider_groups=groups,
        group_map=MAP,
        profile={"username": username, **profile},
        claims={"sub": subject, "groups": list(groups)},
    )
    return User.objects.get(pk=user.pk), record


def names(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def test_the_first_sign_in_creates_the_user_and_later_ones_only_record_changes(groups):
    user, record = sign_in(
        groups=["ml-reviewers", "ml-fraud", "elsewhere"], email="a@example.test", first_name="Al"
    )
    assert (user.username, user.email, user.first_name, user.has_usable_password()) == (
        "alice",
        "a@example.test",
        "Al",
        False,
    )
    assert names(user) == ["Reviewers", "fraud-team"]
    assert (record.account_created, record.groups_added, record.groups_removed) == (
        True,
        ["Reviewers", "fraud-team"],
        [],
    )
    assert record.provider_groups == ["ml-reviewers", "ml-fraud", "elsewhere"]
    first_seen = OIDCIdentity.objects.get(user=user).last_sign_in_at

    same, nothing = sign_in(groups=["ml-fraud", "ml-reviewers"])
    assert (same.pk, nothing) == (user.pk, None)  # no change, no record
    assert OIDCIdentity.objects.get(user=user).last_sign_in_at > first_seen

    _, lost = sign_in(groups=["ml-fraud"])
    assert (lost.groups_added, lost.groups_removed) == ([], ["Reviewers"])
    assert RoleSyncRecord.objects.filter(user=user).count() == 2


def test_only_groups_named_in_the_map_are_managed_and_typos_create_nothing(groups, caplog):
    user, _ = sign_in(groups=["ml-reviewers"])
    user.groups.add(Group.objects.create(name="granted-locally"))
    with caplog.at_level(logging.WARNING, logger="models_app.sign_in"):
        user, record = sign_in(groups=["ml-typo"])
    assert names(user) == ["granted-locally"]
    assert record.groups_removed == ["Reviewers"]
    assert not Group.objects.filter(name="Reviewres").exists()
    assert "'Reviewres', which does not exist" in caplog.text


def test_admin_access_follows_governance_but_never_a_superusers(groups):
    user, record = sign_in(groups=["ml-gov"])
    assert (user.is_staff, record.admin_access) == (True, AdminAccessChange.GRANTED)
    user, record = sign_in(groups=[])
    assert (user.is_staff, record.admin_access, record.groups_removed) == (
        False,
        AdminAccessChange.REVOKED,
        ["Governance"],
    )

    user.is_superuser = user.is_staff = True
    user.save()
    user, record = sign_in(groups=["ml-reviewers"])
    assert (user.is_staff, record.admin_access) == (True, "")


def test_a_local_account_of_the_same_name_is_never_taken_over(groups, reviewer):
    user, _ = sign_in(subject="u-7", username=reviewer.username, groups=["ml-gov"])
    assert user.pk != reviewer.pk
    assert (
        user.username.startswith(reviewer.username + "-") and len(user.username) == len(reviewer.username) + 9
    )
    assert names(User.objects.get(pk=reviewer.pk)) == ["Reviewers"]
    odd, _ = sign_in(subject="u-8", username="Dr. Who? <script>")
    assert odd.username == "Dr.-Who---script-"


def test_a_deactivated_account_is_refused_and_nothing_changes(groups, governance):
    user, _ = sign_in(groups=["ml-reviewers"], email="old@example.test")
    services.user_deactivate(user=user, actor=governance, reason="left")
    records = RoleSyncRecord.objects.count()
    with pytest.raises(AccountDeactivated):
        sign_in(groups=["ml-gov"], email="new@example.test")
    user.refresh_from_db()
    assert (user.is_active, user.is_staff, user.email, names(user)) == (
        False,
        False,
        "old@example.test",
        ["Reviewers"],
    )
    assert RoleSyncRecord.objects.count() == records


def test_role_change_records_are_append_only(groups):
    _, record = sign_in(groups=["ml-reviewers"])
    record.groups_added = []
    with pytest.raises(AppendOnlyViolation):
        record.save()
    with pytest.raises(AppendOnlyViolation):
        record.delete()
    with pytest.raises(AppendOnlyViolation):
        RoleSyncRecord.objects.filter(pk=record.pk).update(groups_added=[])
    with pytest.raises(AppendOnlyViolation):
        RoleSyncRecord.objects.all().delete()


@pytest.mark.postgres
def test_the_database_refuses_to_change_a_record(groups, postgres_only):
    _, record = sign_in(groups=["ml-reviewers"])
    for sql in (
        "UPDATE models_app_rolesyncrecord SET groups_added = '[]'",
        "DELETE FROM models_app_rolesyncrecord",
    ):
        with (
            pytest.raises(DatabaseError, match="Cannot update or delete"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert RoleSyncRecord.objects.get(pk=record.pk).groups_added == ["Reviewers"]


def test_the_password_rule():
    root = User(username="root", is_superuser=True, is_active=True)
    plain = User(username="rita", is_active=True)
    allowed = {"password_login": False, "break_glass_user": "root"}
    assert (
        rules.may_sign_in_with_password(plain, username="rita", password_login=True, break_glass_user="")
        is None
    )
    assert rules.may_sign_in_with_password(root, username="root", **allowed) is None
    for user, username, switches in (
        (plain, "rita", allowed),
        (None, "root", allowed),  # the name, but no such account
        (User(username="root", is_active=True), "root", allowed),  # not a superuser
        (User(username="root", is_superuser=True, is_active=False), "root", allowed),
        (root, "root", {"password_login": False, "break_glass_user": ""}),
    ):
        refusal = rules.may_sign_in_with_password(user, username=username, **switches)
        assert isinstance(refusal, PasswordSignInOff) and str(refusal) == rules.PASSWORD_SIGN_IN_OFF_MESSAGE


def test_governance_may_read_identities_and_records_after_the_migrations(role_groups):
    governance = Group.objects.get(name="Governance")
    granted = set(governance.permissions.values_list("content_type__app_label", "codename"))
    assert {("models_app", "view_oidcidentity"), ("models_app", "view_rolesyncrecord")} <= granted
    assert granted == set(ROLE_PERMISSIONS["Governance"])
    assert not Permission.objects.filter(
        group__name__in=["Publishers", "Reviewers"], codename__endswith="rolesyncrecord"
    )


def test_governance_reads_the_records_in_the_admin_and_cannot_change_them(client, groups, governance):
    _, record = sign_in(groups=["ml-reviewers"])
    client.force_login(governance)
    listing = client.get("/admin/models_app/rolesyncrecord/")
    assert listing.status_code == 200
    assert "alice" in listing.content.decode() and "Reviewers" in listing.content.decode()
    detail = client.get(f"/admin/models_app/rolesyncrecord/{record.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.get("/admin/models_app/rolesyncrecord/add/").status_code == 403
    assert (
        client.post(f"/admin/models_app/rolesyncrecord/{record.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert client.get("/admin/models_app/oidcidentity/").status_code == 200
    assert RoleSyncRecord.objects.filter(pk=record.pk).exists()


def test_reviewers_do_not_see_the_records(client, groups):
    staff_reviewer = make_user("rex-reviewer", groups["Reviewers"], is_staff=True)
    client.force_login(staff_reviewer)
    assert client.get("/admin/models_app/rolesyncrecord/").status_code == 403
