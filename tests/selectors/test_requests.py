"""selectors.transition_request_get and the request lists the pages show."""

import pytest

from models_app import selectors, services
from models_app.exceptions import RequestNotFound
from tests.conftest import register


@pytest.fixture
def pending(registered_model, publisher):
    v1 = register(registered_model, publisher)
    services.version_transition(version=v1, to="staging", actor=publisher)
    return services.transition_request_create(version=v1, to="production", actor=publisher)


def test_a_request_is_found_with_its_approval_count(pending, reviewer, governance, registered_model):
    services.registered_model_update(
        registered_model=registered_model, actor=governance, required_approvals=2
    )
    services.transition_request_approve(transition_request=pending, actor=reviewer)
    req = selectors.transition_request_get(pk=pending.pk)
    assert req.approval_count == 1
    assert [a.reviewer for a in req.approvals.all()] == [reviewer]


def test_an_unknown_request_is_request_not_found_naming_the_field(db):
    with pytest.raises(RequestNotFound) as exc:
        selectors.transition_request_get(pk=404)
    assert (exc.value.code, exc.value.field, exc.value.message) == (
        "request_not_found",
        "id",
        "No transition request #404.",
    )


def test_awaiting_leaves_out_own_requests_and_those_already_decided(
    pending, publisher, reviewer, reviewer2, governance, registered_model
):
    services.registered_model_update(
        registered_model=registered_model, actor=governance, required_approvals=2
    )
    assert list(selectors.transition_request_list_awaiting(user=reviewer)) == [pending]
    assert list(selectors.transition_request_list_awaiting(user=publisher)) == []  # their own
    services.transition_request_approve(transition_request=pending, actor=reviewer)
    assert list(selectors.transition_request_list_awaiting(user=reviewer)) == []  # decided by them
    assert list(selectors.transition_request_list_awaiting(user=reviewer2)) == [pending]


def test_requests_by_a_user_and_for_a_version(pending, publisher, publisher2):
    assert list(selectors.transition_request_list_by(user=publisher)) == [pending]
    assert list(selectors.transition_request_list_by(user=publisher2)) == []
    assert list(selectors.transition_request_list_for_version(version=pending.version)) == [pending]
    assert list(selectors.transition_request_list_pending()) == [pending]
