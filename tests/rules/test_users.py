"""rules.may_deactivate_user."""

import pytest
from django.contrib.auth.models import User

from models_app import rules
from models_app.exceptions import NotAllowed
from tests.conftest import make_user
from tests.rules.facts import assert_refused


@pytest.mark.parametrize("name", ["publisher", "reviewer", "norole"])
def test_governance_deactivates_users(governance, persona, name):
    assert rules.may_deactivate_user(governance, user=persona(name)) is None


def test_a_superuser_deactivates_anyone_else(superuser, governance):
    other = User.objects.create_superuser("sue-super", "sue@example.com", "pw-sue")
    assert rules.may_deactivate_user(superuser, user=governance) is None
    assert rules.may_deactivate_user(superuser, user=other) is None


@pytest.mark.parametrize("name", ["publisher", "reviewer", "norole"])
def test_nobody_without_governance_deactivates(persona, governance, name):
    assert_refused(
        rules.may_deactivate_user(persona(name), user=governance),
        NotAllowed,
        "permission_denied",
        "Only Governance can deactivate users.",
    )


def test_an_inactive_governance_member_deactivates_nobody(role_groups, publisher):
    gone = make_user("gus-gone", role_groups["Governance"], is_active=False)
    assert_refused(
        rules.may_deactivate_user(gone, user=publisher), NotAllowed, "permission_denied", "Only Governance"
    )


@pytest.mark.parametrize("name", ["governance", "superuser"])
def test_nobody_deactivates_themselves(persona, name):
    actor = persona(name)
    assert_refused(
        rules.may_deactivate_user(actor, user=actor),
        NotAllowed,
        "permission_denied",
        "You cannot deactivate your own account.",
    )


def test_only_a_superuser_deactivates_a_superuser(governance, superuser):
    assert_refused(
        rules.may_deactivate_user(governance, user=superuser),
        NotAllowed,
        "permission_denied",
        "Only a superuser can deactivate a superuser.",
    )
