"""Promotion policies: metric gates, approvals by group, freeze windows, and their ledger rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from models_app import policies, services
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.exceptions import (
    ApprovalRequired,
    FreezeWindowActive,
    InvalidInput,
    NotAllowed,
    PolicyGateFailed,
)
from models_app.ledger import verify_chain
from models_app.models import LedgerEntry, PromotionPolicy
from tests.conftest import make_user, nothing_written, promote, register

GATES = [
    {"metric": "accuracy", "op": ">=", "value": 0.92},
    {"metric": "latency_p95_ms", "op": "<=", "value": 40},
]
GOOD = {"metrics": {"accuracy": 0.95, "latency_p95_ms": 31}}


@pytest.fixture
def gov_reviewer(role_groups):
    """A reviewer who also sits in Governance."""
    return make_user("gwen-gov-reviewer", role_groups["Reviewers"], role_groups["Governance"])


def staged(model, publisher, metadata):
    version = register(model, publisher, metadata=metadata)
    services.version_transition(version=version, to="staging", actor=publisher)
    return version


def request_production(version, publisher):
    return services.transition_request_create(version=version, to="production", actor=publisher)


# -- metric gates -------------------------------------------------------------------------------------


def test_it_refuses_a_request_failing_the_gates_naming_each_metric(registered_model, publisher, governance):
    services.promotion_policy_set(registered_model=registered_model, actor=governance, metric_gates=GATES)
    version = staged(registered_model, publisher, {"metrics": {"accuracy": 0.9}})
    rows_before = LedgerEntry.objects.count()
    with nothing_written(), pytest.raises(PolicyGateFailed) as exc:
        request_production(version, publisher)
    assert exc.value.code == "policy_gate_failed"
    assert exc.value.field == "metrics"
    assert "accuracy is 0.9 (needs >= 0.92)" in str(exc.value)
    assert "latency_p95_ms is not recorded (needs <= 40)" in str(exc.value)
    assert not version.transition_requests.exists()
    assert LedgerEntry.objects.count() == rows_before


def test_a_passing_request_records_the_gate_evidence(registered_model, publisher, reviewer, governance):
    services.promotion_policy_set(registered_model=registered_model, actor=governance, metric_gates=GATES)
    version = staged(registered_model, publisher, GOOD)
    req = request_production(version, publisher)
    row = LedgerEntry.objects.get(transition_request=req, kind=LedgerKind.REQUESTED)
    assert row.details["gates"] == [
        {"gate": "accuracy >= 0.92", "value": 0.95, "passed": True},
        {"gate": "latency_p95_ms <= 40", "value": 31, "passed": True},
    ]
    services.transition_request_approve(transition_request=req, actor=reviewer)
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION


def test_gates_are_rechecked_at_approval(registered_model, publisher, reviewer, governance):
    version = staged(registered_model, publisher, {"metrics": {"accuracy": 0.9}})
    req = request_production(version, publisher)  # no policy yet
    services.promotion_policy_set(registered_model=registered_model, actor=governance, metric_gates=GATES[:1])
    with nothing_written(), pytest.raises(PolicyGateFailed, match=r"accuracy is 0\.9"):
        services.transition_request_approve(transition_request=req, actor=reviewer)
    req.refresh_from_db()
    version.refresh_from_db()
    assert (req.status, version.stage, req.approvals.count()) == (RequestStatus.PENDING, Stage.STAGING, 0)


# -- approvals by group -------------------------------------------------------------------------------


def test_it_needs_two_approvals_with_one_from_governance(
    registered_model, publisher, reviewer, reviewer2, gov_reviewer, governance
):
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        required_approvals=2,
        group_approvals={"Governance": 1},
    )
    version = staged(registered_model, publisher, GOOD)
    req = request_production(version, publisher)
    services.transition_request_approve(transition_request=req, actor=reviewer)
    services.transition_request_approve(transition_request=req, actor=reviewer2)
    req.refresh_from_db()
    version.refresh_from_db()
    # Two approvals, but none from Governance: still waiting.
    assert (req.status, version.stage) == (RequestStatus.PENDING, Stage.STAGING)
    services.transition_request_approve(transition_request=req, actor=gov_reviewer)
    req.refresh_from_db()
    version.refresh_from_db()
    assert (req.status, version.stage) == (RequestStatus.APPROVED, Stage.PRODUCTION)
    approval_rows = LedgerEntry.objects.filter(transition_request=req, kind=LedgerKind.APPROVAL)
    groups = {r.actor_username: r.details["groups"] for r in approval_rows}
    assert groups[gov_reviewer.username] == ["Governance", "Reviewers"]
    assert groups[reviewer.username] == ["Reviewers"]


def test_the_governance_approver_alone_is_not_enough_when_two_are_required(
    registered_model, publisher, gov_reviewer, governance
):
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        required_approvals=2,
        group_approvals={"Governance": 1},
    )
    version = staged(registered_model, publisher, GOOD)
    req = request_production(version, publisher)
    services.transition_request_approve(transition_request=req, actor=gov_reviewer)
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING


def test_the_requester_never_counts_even_from_governance(registered_model, role_groups, team, governance):
    # A publisher who is also in Governance requests; the Governance minimum must come from someone else.
    requester = make_user(
        "gpub", role_groups["Publishers"], role_groups["Governance"], role_groups["Reviewers"], team
    )
    other = make_user("rev-x", role_groups["Reviewers"])
    services.promotion_policy_set(
        registered_model=registered_model, actor=governance, group_approvals={"Governance": 1}
    )
    version = staged(registered_model, requester, GOOD)
    req = request_production(version, requester)
    services.transition_request_approve(transition_request=req, actor=other)
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING
    assert policies.missing_group_approvals(registered_model=registered_model, transition_request=req) == {
        "Governance": 1
    }


# -- freeze windows -----------------------------------------------------------------------------------


def window_around_now(reason="quarter close"):
    now = datetime.now(UTC)
    return [
        {
            "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(hours=1)).isoformat(),
            "reason": reason,
        }
    ]


def test_a_freeze_window_refuses_promotion_but_not_rollback(
    registered_model, publisher, reviewer, governance
):
    v1 = register(registered_model, publisher, metadata=GOOD)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher, metadata=GOOD)
    promote(v2, publisher, reviewer)
    v3 = staged(registered_model, publisher, GOOD)
    req = request_production(v3, publisher)
    services.promotion_policy_set(
        registered_model=registered_model, actor=governance, freeze_windows=window_around_now()
    )
    with nothing_written(), pytest.raises(FreezeWindowActive) as exc:
        services.transition_request_approve(transition_request=req, actor=reviewer)
    assert exc.value.code == "freeze_window" and "quarter close" in str(exc.value)
    # Leaving Production is requested too, and a freeze holds its approval back like a promotion's.
    with nothing_written(), pytest.raises(ApprovalRequired):
        services.version_transition(version=v2, to="archived", actor=reviewer)
    retire = services.transition_request_create(version=v2, to="archived", actor=publisher, comment="retire")
    with nothing_written(), pytest.raises(FreezeWindowActive):
        services.transition_request_approve(transition_request=retire, actor=reviewer)
    # Moves that do not touch Production go on.
    services.version_transition(version=v3, to="none", actor=publisher)
    services.version_rollback(
        registered_model=registered_model, version_number=1, actor=reviewer, reason="v2 broke"
    )
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.stage, v2.stage) == (Stage.PRODUCTION, Stage.ARCHIVED)
    assert verify_chain().ok


def test_windows_in_the_past_or_future_do_not_freeze(registered_model, publisher, reviewer, governance):
    now = datetime.now(UTC)
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        freeze_windows=[
            {"start": (now - timedelta(days=2)).isoformat(), "end": (now - timedelta(days=1)).isoformat()},
            {"start": (now + timedelta(days=1)).isoformat(), "end": (now + timedelta(days=2)).isoformat()},
        ],
    )
    version = register(registered_model, publisher, metadata=GOOD)
    promote(version, publisher, reviewer)
    assert version.stage == Stage.PRODUCTION


# -- setting policies -----------------------------------------------------------------------------------


def test_every_policy_change_is_a_ledger_row(registered_model, governance):
    services.promotion_policy_set(registered_model=registered_model, actor=governance, metric_gates=GATES)
    services.promotion_policy_set(
        registered_model=registered_model, actor=governance, metric_gates=GATES
    )  # no-op
    services.promotion_policy_set(
        registered_model=registered_model, actor=governance, required_approvals=3, comment="audit finding 12"
    )
    rows = list(LedgerEntry.objects.filter(kind=LedgerKind.POLICY_CHANGED).order_by("id"))
    assert len(rows) == 2
    assert rows[0].details["changed"] == ["metric_gates"]
    assert rows[0].details["to"]["metric_gates"] == GATES
    assert rows[1].details["from"]["required_approvals"] == 1
    assert rows[1].details["to"]["required_approvals"] == 3
    assert rows[1].comment == "audit finding 12"
    registered_model.refresh_from_db()
    assert registered_model.required_approvals == 3
    assert verify_chain().ok


def test_only_governance_sets_policies(registered_model, publisher, reviewer):
    for user in (publisher, reviewer):
        with nothing_written(), pytest.raises(NotAllowed):
            services.promotion_policy_set(registered_model=registered_model, actor=user, metric_gates=GATES)
    assert not PromotionPolicy.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"metric_gates": {"accuracy": 0.9}}, "metric_gates"),
        ({"metric_gates": [{"metric": "", "op": ">=", "value": 1}]}, "metric_gates[0].metric"),
        ({"metric_gates": [{"metric": "acc", "op": "=>", "value": 1}]}, "metric_gates[0].op"),
        ({"metric_gates": [{"metric": "acc", "op": ">=", "value": "0.9"}]}, "metric_gates[0].value"),
        ({"metric_gates": [{"metric": "acc", "op": ">=", "value": float("nan")}]}, "metric_gates[0].value"),
        ({"group_approvals": {"Nobody": 1}}, "group_approvals.Nobody"),
        ({"group_approvals": {"Governance": 0}}, "group_approvals.Governance"),
        (
            {"freeze_windows": [{"start": "2025-01-02T00:00:00", "end": "2025-01-03T00:00:00Z"}]},
            "freeze_windows[0].start",
        ),
        (
            {"freeze_windows": [{"start": "2025-01-03T00:00:00Z", "end": "2025-01-02T00:00:00Z"}]},
            "freeze_windows[0].end",
        ),
        ({"freeze_windows": [{"start": "soon", "end": "later"}]}, "freeze_windows[0].start"),
        ({"required_approvals": 0}, "required_approvals"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(registered_model, governance, kwargs, field):
    with pytest.raises(InvalidInput) as exc:
        services.promotion_policy_set(registered_model=registered_model, actor=governance, **kwargs)
    assert exc.value.field == field
    assert not LedgerEntry.objects.filter(kind=LedgerKind.POLICY_CHANGED).exists()


def test_the_policy_describes_itself(registered_model, governance):
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        metric_gates=GATES,
        required_approvals=2,
        group_approvals={"Governance": 1},
    )
    registered_model.refresh_from_db()
    lines = policies.policy_for(registered_model).describe()
    assert lines[:3] == [
        "2 approval(s) from reviewers other than the requester",
        "at least 1 approval(s) from Governance",
        "to enter Production: accuracy >= 0.92 and latency_p95_ms <= 40",
    ]


# -- admin ----------------------------------------------------------------------------------------------


def test_governance_sets_a_policy_in_the_admin(client, registered_model, role_groups):

    staff = make_user("gina-gov", role_groups["Governance"], is_staff=True)
    assert PromotionPolicy in site._registry
    client.force_login(staff)
    response = client.post(
        reverse("admin:models_app_promotionpolicy_add"),
        {
            "registered_model": registered_model.pk,
            "metric_gates": "accuracy >= 0.92",
            "group_approvals": '{"Governance": 1}',
            "freeze_windows": "[]",
            "required_approvals": "2",
            "comment": "first policy",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = LedgerEntry.objects.get(kind=LedgerKind.POLICY_CHANGED)
    assert (row.actor, row.comment) == (staff, "first policy")
    assert row.details["to"]["group_approvals"] == {"Governance": 1}
    with nothing_written():
        bad = client.post(
            reverse("admin:models_app_promotionpolicy_change", args=[PromotionPolicy.objects.get().pk]),
            {
                "metric_gates": "accuracy ~ 1",
                "group_approvals": "{}",
                "freeze_windows": "[]",
                "required_approvals": "2",
            },
        )
    assert bad.status_code == 200
    assert "Line 1 (&#x27;accuracy ~ 1&#x27;): write a metric, an operator" in bad.content.decode()
    assert LedgerEntry.objects.filter(kind=LedgerKind.POLICY_CHANGED).count() == 1
