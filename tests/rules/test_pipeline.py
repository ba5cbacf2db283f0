"""rules.may_move_alias, rules.may_report_deployment and rules.may_manage_webhooks."""

import pytest
from django.contrib.auth.models import AnonymousUser

from models_app import rules
from models_app.exceptions import NotAllowed
from tests.conftest import make_user
from tests.rules.facts import assert_refused

ALLOWED = ["publisher", "publisher2", "reviewer", "reviewer2", "superuser"]
REFUSED = ["outsider", "governance", "norole", "inactive_publisher"]


@pytest.mark.parametrize("name", ALLOWED)
def test_team_publishers_and_reviewers_move_aliases(persona, registered_model, name):
    assert rules.may_move_alias(persona(name), registered_model=registered_model) is None


@pytest.mark.parametrize("name", REFUSED)
def test_nobody_else_moves_aliases(persona, registered_model, name):
    assert_refused(
        rules.may_move_alias(persona(name), registered_model=registered_model),
        NotAllowed,
        "permission_denied",
        "Only Publishers of team 'fraud-team' or Reviewers can move aliases of 'fraud-detector'.",
    )


@pytest.mark.parametrize("name", ALLOWED)
def test_team_publishers_and_reviewers_report_deployments(persona, registered_model, name):
    assert rules.may_report_deployment(persona(name), registered_model=registered_model) is None


@pytest.mark.parametrize("name", REFUSED)
def test_nobody_else_reports_deployments(persona, registered_model, name):
    assert_refused(
        rules.may_report_deployment(persona(name), registered_model=registered_model),
        NotAllowed,
        "permission_denied",
        "Only Publishers of team 'fraud-team' or Reviewers can report deployments of 'fraud-detector'.",
    )


# -- may_manage_webhooks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["governance", "superuser"])
def test_governance_manages_every_subscription(persona, registered_model, other_team, name):
    user = persona(name)
    assert rules.may_manage_webhooks(user) is None
    assert rules.may_manage_webhooks(user, registered_model=registered_model) is None
    assert rules.may_manage_webhooks(user, team=other_team) is None


@pytest.mark.parametrize("name", ["publisher", "outsider", "reviewer"])
def test_a_subscription_to_every_model_is_governances_alone(persona, name):
    assert_refused(
        rules.may_manage_webhooks(persona(name)),
        NotAllowed,
        "permission_denied",
        "Only Governance can subscribe to the events of every model; give a model or a team.",
    )


@pytest.mark.parametrize("name", ["publisher", "publisher2"])
def test_team_publishers_manage_their_models_and_teams_subscriptions(persona, registered_model, team, name):
    user = persona(name)
    assert rules.may_manage_webhooks(user, registered_model=registered_model) is None
    assert rules.may_manage_webhooks(user, team=team) is None


@pytest.mark.parametrize("name", ["outsider", "reviewer", "norole", "inactive_publisher"])
def test_nobody_else_manages_a_models_subscriptions(persona, registered_model, team, name):
    for scope in ({"registered_model": registered_model}, {"team": team}):
        assert_refused(
            rules.may_manage_webhooks(persona(name), **scope),
            NotAllowed,
            "permission_denied",
            "Only Publishers of team 'fraud-team' or Governance can manage these webhooks.",
        )


def test_a_publisher_does_not_manage_another_teams_subscriptions(publisher, other_team):
    assert_refused(
        rules.may_manage_webhooks(publisher, team=other_team),
        NotAllowed,
        "permission_denied",
        "Only Publishers of team 'search-team' or Governance",
    )


def test_the_models_team_decides_when_both_a_model_and_a_team_are_given(
    publisher, registered_model, other_team
):
    assert rules.may_manage_webhooks(publisher, registered_model=registered_model, team=other_team) is None


def test_a_team_member_without_the_publisher_role_manages_nothing(team_member_without_role, team):
    assert_refused(
        rules.may_manage_webhooks(team_member_without_role, team=team), NotAllowed, "permission_denied"
    )


def test_an_inactive_governance_member_manages_nothing(role_groups, registered_model):
    gone = make_user("gus-gone", role_groups["Governance"], is_active=False)
    assert_refused(rules.may_manage_webhooks(gone), NotAllowed, "permission_denied", "Only Governance")
    assert_refused(
        rules.may_manage_webhooks(gone, registered_model=registered_model), NotAllowed, "permission_denied"
    )


@pytest.mark.parametrize("user", [None, AnonymousUser()], ids=["no user", "anonymous"])
def test_without_a_signed_in_user_nothing_is_managed(registered_model, user):
    assert_refused(rules.may_manage_webhooks(user), NotAllowed, "permission_denied", "Only Governance")
    assert_refused(
        rules.may_manage_webhooks(user, registered_model=registered_model),
        NotAllowed,
        "permission_denied",
        "'fraud-team'",
    )
