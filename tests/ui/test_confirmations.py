"""The confirmation step of approve, reject and roll back: the first POST says what will change and
changes nothing; the second (``confirm=yes``) acts. Works without JavaScript; htmx gets it in the card."""

import re

import pytest
from django.urls import reverse

from models_app import services
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.models import Approval, LedgerEntry
from models_app.ui import confirmations
from tests.conftest import nothing_written

pytestmark = pytest.mark.django_db


def approve_url(req):
    return reverse("models_app:transitionrequest-approve", args=[req.pk])


def changes_of(html: str) -> list[str]:
    block = re.search(r'<ul class="confirmation__changes"[^>]*>(.*?)</ul>', html, re.S).group(1)
    return [re.sub(r"\s+", " ", li).strip() for li in re.findall(r"<li>(.*?)</li>", block, re.S)]


def test_approving_first_answers_a_confirmation_that_names_what_enters_and_leaves_production(
    login, scenario, reviewer
):
    client = login(reviewer)
    with nothing_written():
        response = client.post(approve_url(scenario.request), {"comment": "Looks right & good."})
    assert response.status_code == 200
    html = response.content.decode()
    assert changes_of(html) == ["v3 enters Production.", "v2 is archived."]
    assert "Approve: v3 to Production" in html
    # The second step carries the comment and confirm=yes, with no JavaScript needed.
    assert '<input type="hidden" name="confirm" value="yes">' in html
    assert '<input type="hidden" name="comment" value="Looks right &amp; good.">' in html
    assert f'action="{approve_url(scenario.request)}"' in html
    response = client.post(
        approve_url(scenario.request), {"comment": "Looks right & good.", "confirm": "yes"}, follow=True
    )
    scenario.candidate.refresh_from_db()
    assert scenario.candidate.stage == Stage.PRODUCTION
    row = LedgerEntry.objects.get(version=scenario.candidate, kind=LedgerKind.APPROVED)
    assert row.comment == "Looks right & good."


def test_with_two_approvals_required_the_first_only_records_a_vote(login, scenario, reviewer):
    scenario.model.required_approvals = 2
    scenario.model.save(update_fields=["required_approvals"])
    with nothing_written():
        html = login(reviewer).post(approve_url(scenario.request)).content.decode()
    assert changes_of(html) == [
        "Your approval is recorded (1 of 2).",
        "v3 stays in Staging; it still needs 1 more approval.",
        "Production is unchanged (v2).",
    ]


def test_rejecting_first_answers_a_confirmation(login, scenario, reviewer):
    url = reverse("models_app:transitionrequest-reject", args=[scenario.request.pk])
    with nothing_written():
        html = login(reviewer).post(url, {"comment": "no"}).content.decode()
    pk = scenario.request.pk
    assert changes_of(html) == [
        f"Request #{pk} is closed as rejected.",
        "v3 stays in Staging.",
        "Production is unchanged (v2).",
    ]
    assert not Approval.objects.filter(transition_request=scenario.request).exists()


def test_a_refused_decision_answers_the_rules_message_without_a_confirmation(
    login, scenario, reviewer, reviewer2
):
    services.transition_request_approve(transition_request=scenario.request, actor=reviewer)
    with nothing_written():
        response = login(reviewer2).post(approve_url(scenario.request), follow=True)
    html = response.content.decode()
    assert f"Request #{scenario.request.pk} is already approved." in html
    assert "confirmation__changes" not in html


def test_a_failing_gate_is_shown_on_the_confirmation_and_no_confirm_button(
    login, scenario, reviewer, governance
):
    services.promotion_policy_set(
        registered_model=scenario.model,
        actor=governance,
        metric_gates=[{"metric": "auc", "op": ">=", "value": 0.99}],
    )
    with nothing_written():
        html = login(reviewer).post(approve_url(scenario.request)).content.decode()
    assert "fails the Production gates" in html
    assert "Approve: v3 to Production" not in html


def test_rolling_back_first_answers_a_confirmation(login, scenario, reviewer):
    url = reverse("models_app:modelversion-rollback", args=["fraud-detector", 1])
    client = login(reviewer)
    with nothing_written():
        response = client.post(url, {"reason": "v2 misroutes EU traffic"})
    html = response.content.decode()
    assert changes_of(html) == ["v1 returns to Production.", "v2 is archived."]
    assert '<input type="hidden" name="reason" value="v2 misroutes EU traffic">' in html
    client.post(url, {"reason": "v2 misroutes EU traffic", "confirm": "yes"})
    scenario.archived.refresh_from_db()
    assert scenario.archived.stage == Stage.PRODUCTION


def test_an_htmx_decision_gets_the_confirmation_inside_the_card(login, scenario, reviewer):
    with nothing_written():
        response = login(reviewer).post(
            approve_url(scenario.request), {"comment": "ok"}, headers={"HX-Request": "true"}
        )
    html = response.content.decode()
    assert "<html" not in html and html.lstrip().startswith('<article class="request-card')
    assert changes_of(html) == ["v3 enters Production.", "v2 is archived."]
    assert f'hx-post="{approve_url(scenario.request)}"' in html
    scenario.request.refresh_from_db()
    assert scenario.request.status == RequestStatus.PENDING


def test_the_presenter_says_when_a_model_had_no_production_version():
    c = confirmations.approve(
        model_name="churn", request_pk=4, version_number=1, production_number=None, approvals=0, required=1
    )
    assert c.summary == "v1 enters Production; churn had no Production version; v1 becomes its first."
    groups = confirmations.approve(
        model_name="churn",
        request_pk=4,
        version_number=2,
        production_number=1,
        approvals=1,
        required=1,
        missing_groups={"Risk": 1},
        reviewer_groups={"Reviewers"},
    )
    assert not groups.applies
    assert groups.changes[1] == "v2 stays in Staging; it still needs 1 approval from Risk."
    own = confirmations.approve(
        model_name="churn",
        request_pk=4,
        version_number=2,
        production_number=1,
        approvals=1,
        required=1,
        missing_groups={"Risk": 1},
        reviewer_groups={"Risk"},
    )
    assert own.applies and own.summary == "v2 enters Production; v1 is archived."


def test_approving_a_retirement_says_the_model_is_left_without_production():
    applied = confirmations.approve(
        model_name="fraud-detector",
        request_pk=7,
        version_number=2,
        production_number=2,
        approvals=1,
        required=2,
        kind="retirement",
    )
    assert applied.changes == [
        "v2 leaves Production and is archived.",
        "fraud-detector will have no Production version.",
    ]
    pending = confirmations.approve(
        model_name="fraud-detector",
        request_pk=7,
        version_number=2,
        production_number=2,
        approvals=0,
        required=2,
        kind="retirement",
    )
    assert pending.changes[1] == "v2 stays in Production; it still needs 1 more approval."


def test_deciding_an_alias_request_names_the_alias():
    applied = confirmations.approve(
        model_name="fraud-detector",
        request_pk=8,
        version_number=3,
        production_number=2,
        approvals=0,
        required=1,
        kind="alias",
        target_alias="champion",
    )
    assert applied.changes == ["@champion points at v3."]
    rejected = confirmations.reject(
        model_name="fraud-detector",
        request_pk=8,
        version_number=3,
        production_number=2,
        kind="alias",
        target_alias="champion",
    )
    assert rejected.changes == ["Request #8 is closed as rejected.", "@champion is unchanged."]
