"""rules.may_create_model, rules.may_edit_model and rules.may_govern."""

import pytest

from models_app import rules
from models_app.exceptions import NotAllowed
from tests.conftest import make_user
from tests.rules.facts import assert_refused


@pytest.mark.parametrize("name", ["publisher", "publisher2", "superuser"])
def test_team_publishers_create_the_teams_models(persona, team, name):
    assert rules.may_create_model(persona(name), team=team) is None


@pytest.mark.parametrize(
    "name", ["outsider", "reviewer", "governance", "norole", "team_member_without_role", "inactive_publisher"]
)
def test_nobody_else_creates_the_teams_models(persona, team, name):
    assert_refused(
        rules.may_create_model(persona(name), team=team),
        NotAllowed,
        "permission_denied",
        "Only Publishers who are members of team 'fraud-team' can create its models.",
    )


def test_a_publisher_creates_models_only_for_their_own_team(publisher, other_team):
    assert_refused(
        rules.may_create_model(publisher, team=other_team), NotAllowed, "permission_denied", "'search-team'"
    )


@pytest.mark.parametrize("name", ["publisher", "publisher2", "governance", "superuser"])
def test_team_publishers_and_governance_edit_a_model(persona, registered_model, name):
    assert rules.may_edit_model(persona(name), registered_model=registered_model) is None


@pytest.mark.parametrize("name", ["outsider", "reviewer", "norole", "inactive_publisher"])
def test_nobody_else_edits_a_model(persona, registered_model, name):
    assert_refused(
        rules.may_edit_model(persona(name), registered_model=registered_model),
        NotAllowed,
        "permission_denied",
        "Only the model's team publishers or Governance can edit its description and tags.",
    )


@pytest.mark.parametrize("name", ["governance", "superuser"])
def test_governance_governs(persona, name):
    assert rules.may_govern(persona(name)) is None


@pytest.mark.parametrize("name", ["publisher", "reviewer", "outsider", "norole"])
def test_nobody_else_governs(persona, name):
    assert_refused(
        rules.may_govern(persona(name)),
        NotAllowed,
        "permission_denied",
        "Only Governance can change a model's team, required approvals or promotion policy.",
    )


def test_an_inactive_governance_member_governs_nothing(role_groups):
    gone = make_user("gus-gone", role_groups["Governance"], is_active=False)
    assert_refused(rules.may_govern(gone), NotAllowed, "permission_denied", "Only Governance")
