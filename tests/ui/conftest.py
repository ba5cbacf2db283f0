import pytest
from django.test import Client

from tests.conftest import make_user
from tests.ui.scenario import build_scenario


@pytest.fixture
def scenario(publisher, reviewer, team):
    return build_scenario(publisher=publisher, reviewer=reviewer, team=team)


@pytest.fixture
def publisher_reviewer(role_groups, team):
    """Someone on the team who both publishes and reviews (small teams do this)."""
    return make_user("pam-both", role_groups["Publishers"], role_groups["Reviewers"], team)


@pytest.fixture
def login():
    """A test client signed in as ``user``."""

    def _login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login
