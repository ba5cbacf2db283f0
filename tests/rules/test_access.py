"""rules.refuse, rules.first and rules.may_use_registry."""

import pytest
from django.contrib.auth.models import AnonymousUser

from models_app import rules
from models_app.exceptions import InvalidInput, NotAllowed, StaleState
from tests.rules.facts import assert_refused

NO_ROLE = (
    "Your account has no registry role yet. Ask Governance to add you to Publishers, Reviewers or Governance."
)


def test_refuse_does_nothing_without_a_refusal():
    assert rules.refuse(None) is None


def test_refuse_raises_the_very_refusal_it_is_given():
    refusal = StaleState("moved meanwhile", field="expected_version")
    with pytest.raises(StaleState) as exc:
        rules.refuse(refusal)
    assert exc.value is refusal


def test_first_is_the_first_refusal_in_order():
    a, b = NotAllowed("a"), InvalidInput("b")
    assert rules.first(None, a, b) is a
    assert rules.first(b, a) is b
    assert rules.first(None, None) is None
    assert rules.first() is None


@pytest.mark.parametrize("name", ["publisher", "outsider", "reviewer", "governance", "superuser"])
def test_every_role_holder_uses_the_registry(persona, name):
    assert rules.may_use_registry(persona(name)) is None


@pytest.mark.parametrize("name", ["norole", "team_member_without_role", "inactive_publisher"])
def test_without_an_active_role_the_registry_is_refused(persona, name):
    refusal = rules.may_use_registry(persona(name))
    assert_refused(refusal, NotAllowed, "permission_denied")
    assert refusal.message == NO_ROLE


def test_anonymous_users_are_refused(db):
    assert_refused(
        rules.may_use_registry(AnonymousUser()), NotAllowed, "permission_denied", "no registry role"
    )
