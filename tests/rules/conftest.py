"""Fixtures for the rule tests: personas by name, and a few users the shared personas do not cover."""

import pytest

from tests.conftest import make_user


@pytest.fixture
def persona(request):
    """``persona("reviewer")``: a shared persona fixture by name, for parametrized role tables."""
    return request.getfixturevalue


@pytest.fixture
def inactive_publisher(role_groups, team):
    return make_user("ian-inactive", role_groups["Publishers"], team, is_active=False)


@pytest.fixture
def team_member_without_role(team):
    """In the team group, but holding no registry role."""
    return make_user("tom-teamonly", team)
