"""services.transition_request_create/approve for retirements and protected aliases, and what other
stage changes do to their pending requests."""

from __future__ import annotations

import pytest

from models_app import services
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.exceptions import ApprovalRequired, InvalidInput, PolicyGateFailed
from models_app.models import LedgerEntry, ModelAlias
from tests.conftest import nothing_written, promote, register


@pytest.fixture
def lineup(registered_model, publisher, reviewer):
    """v1 in Production, v2 in Staging (auc 0.8)."""
    v1 = register(registered_model, publisher, metadata={"metrics": {"auc": 0.95}})
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher, metadata={"metrics": {"auc": 0.8}})
    services.version_transition(version=v2, to="staging", actor=publisher)
    return v1, v2


def test_a_retirement_needs_a_reason(lineup, publisher):
    with nothing_written(), pytest.raises(InvalidInput) as caught:
        services.transition_request_create(version=lineup[0], to="archived", actor=publisher, comment="  ")
    assert caught.value.field == "comment"


def test_a_rollback_closes_the_pending_retirement_of_the_version_it_supersedes(
    registered_model, lineup, publisher, reviewer
):
    v2 = lineup[1]
    promotion = services.transition_request_create(version=v2, to="production", actor=publisher)
    services.transition_request_approve(transition_request=promotion, actor=reviewer)  # v1 archived
    retire = services.transition_request_create(version=v2, to="archived", actor=publisher, comment="Bad.")
    services.version_rollback(
        registered_model=registered_model, version_number=1, actor=reviewer, reason="v2 broke"
    )
    retire.refresh_from_db()
    assert retire.status == RequestStatus.CANCELLED
    row = LedgerEntry.objects.filter(transition_request=retire, kind=LedgerKind.CANCELLATION).get()
    assert row.comment == "Cancelled automatically: v2 left Production."


def test_an_alias_request_stays_open_when_its_version_leaves_staging(
    registered_model, lineup, publisher, governance
):
    services.promotion_policy_set(
        registered_model=registered_model, actor=governance, protected_aliases=["champion"]
    )
    req = services.transition_request_create(version=lineup[1], to="@champion", actor=publisher)
    services.version_transition(version=lineup[1], to="none", actor=publisher)
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING


def test_a_tightened_gate_holds_back_an_alias_request_at_approval(
    registered_model, lineup, publisher, reviewer, governance
):
    services.promotion_policy_set(
        registered_model=registered_model, actor=governance, protected_aliases=["champion"]
    )
    req = services.transition_request_create(version=lineup[1], to="@champion", actor=publisher)
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        metric_gates=[{"metric": "auc", "op": ">=", "value": 0.9}],
    )
    with nothing_written(), pytest.raises(PolicyGateFailed):
        services.transition_request_approve(transition_request=req, actor=reviewer)
    assert not ModelAlias.objects.filter(name="champion").exists()


def test_protecting_an_alias_stops_direct_moves_and_unprotecting_restores_them(
    registered_model, lineup, publisher, governance
):
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    services.promotion_policy_set(
        registered_model=registered_model, actor=governance, protected_aliases=["champion"]
    )
    with nothing_written(), pytest.raises(ApprovalRequired):
        services.alias_set(
            registered_model=registered_model, alias="champion", version_number=2, actor=publisher
        )
    with nothing_written(), pytest.raises(ApprovalRequired):
        services.alias_delete(registered_model=registered_model, alias="champion", actor=publisher)
    services.promotion_policy_set(registered_model=registered_model, actor=governance, protected_aliases=[])
    services.alias_delete(
        registered_model=registered_model, alias="champion", actor=publisher, expected_version=1
    )
    assert not ModelAlias.objects.exists()
    assert lineup[0].stage == Stage.PRODUCTION
