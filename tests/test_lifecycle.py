"""The transition table, exhaustively: every (current, target) pair, without a database."""

import itertools

import pytest

from models_app.choices import Stage
from models_app.exceptions import InvalidTransition
from models_app.lifecycle import REQUIRES_APPROVAL, check_transition, is_allowed

ALLOWED = {
    (Stage.NONE, Stage.STAGING),
    (Stage.NONE, Stage.ARCHIVED),
    (Stage.STAGING, Stage.PRODUCTION),
    (Stage.STAGING, Stage.NONE),
    (Stage.STAGING, Stage.ARCHIVED),
    (Stage.PRODUCTION, Stage.ARCHIVED),
    (Stage.ARCHIVED, Stage.STAGING),
}
PAIRS = list(itertools.product(Stage, Stage))


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_it_allows_exactly_the_table(current, target):
    if (current, target) in ALLOWED:
        check_transition(current, target)
        assert is_allowed(current, target)
    else:
        with pytest.raises(InvalidTransition) as exc:
            check_transition(current, target)
        # The message names both stages so the caller knows what was refused.
        assert f"'{current}'" in str(exc.value)
        assert f"'{target}'" in str(exc.value)
        assert exc.value.code == "invalid_transition"


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_it_allows_only_archived_to_production_as_a_rollback(current, target):
    expected = (current, target) == (Stage.ARCHIVED, Stage.PRODUCTION)
    assert is_allowed(current, target, rollback=True) is expected
    if not expected:
        with pytest.raises(InvalidTransition):
            check_transition(current, target, rollback=True)


def test_it_needs_approval_only_for_production():
    assert frozenset({Stage.PRODUCTION}) == REQUIRES_APPROVAL
