"""End-to-end reviewer flows in headless Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from models_app import services
from models_app.choices import RequestStatus, Stage
from models_app.models import Approval, LedgerEntry
from tests.conftest import make_user, nothing_written, register
from tests.ui.scenario import build_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scenario(publisher, reviewer, team):
    return build_scenario(publisher=publisher, reviewer=reviewer, team=team)


def test_a_reviewer_signs_in_compares_with_production_and_approves(page, live_server, scenario, reviewer):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username").fill(reviewer.username)
    page.get_by_label("Password").fill("pw-rita-reviewer")
    page.get_by_role("button", name="Sign in").click()

    # The inbox holds the pending request; open it.
    inbox = page.locator(
        "section", has=page.get_by_role("heading", name=re.compile("Waiting for my decision"))
    )
    card = inbox.locator(f"#request-{scenario.request.pk}")
    expect(card).to_contain_text("Better AUC on the March data.")
    card.get_by_role("link", name="v3").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("fraud-detector v3")
    expect(page.locator("#version-stage")).to_contain_text("Staging")

    # Compare with Production: v2 is the baseline, AUC improved, loss got worse.
    page.get_by_role("link", name="Compare with Production v2").first.click()
    expect(page).to_have_url(re.compile(r"/models/fraud-detector/compare/\?versions=2,3$"))
    expect(
        page.get_by_text("Deltas are measured against the baseline, v2 (current Production).")
    ).to_be_visible()
    metrics = page.locator("section", has=page.get_by_role("heading", name="Metrics", exact=True))
    expect(metrics.get_by_role("row", name=re.compile(r"^auc"))).to_contain_text("better")
    expect(metrics.get_by_role("row", name=re.compile(r"^val_loss"))).to_contain_text("worse")

    # Approve inline on the approvals page (htmx swaps the card in place).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    card = page.locator(f"#request-{scenario.request.pk}")
    card.get_by_label(re.compile("^Comment")).fill("AUC gain holds on the holdout.")
    with page.expect_response(re.compile(r"/approvals/\d+/approve/$")) as response_info:
        card.get_by_role("button", name="Approve").click()
    assert response_info.value.request.headers.get("hx-request") == "true"
    # The card now says what will change and asks to confirm.
    card = page.locator(f"#request-{scenario.request.pk}")
    expect(card.locator(".confirmation__changes")).to_have_text(
        re.compile(r"v3 enters Production\.\s*v2 is archived\.")
    )
    card.get_by_role("button", name="Approve: v3 to Production").click()
    card = page.locator(f"#request-{scenario.request.pk}")
    expect(card).to_contain_text("is now in Production")
    expect(card.locator(".badge--status-approved")).to_have_text(re.compile("Approved"))
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)

    # The version now shows the Production badge, and the ledger has the approval with its comment.
    card.get_by_role("link", name="v3").click()
    expect(page.locator("#version-stage")).to_contain_text("Production")
    ledger = page.locator("section", has=page.get_by_role("heading", name="Ledger of v3"))
    row = ledger.get_by_role("row", name=re.compile("Approved stage change"))
    expect(row).to_contain_text("AUC gain holds on the holdout.")
    expect(row).to_contain_text(reviewer.username)
    assert page.dialogs == []
    scenario.candidate.refresh_from_db()
    assert scenario.candidate.stage == Stage.PRODUCTION


def test_a_publisher_sees_no_approve_button_and_a_forged_post_is_refused(
    page, context, sign_in, scenario, publisher
):
    sign_in(publisher)
    page.goto("/approvals/")
    card = page.locator(f"#request-{scenario.request.pk}")
    expect(card).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)
    page.goto(f"/models/fraud-detector/versions/{scenario.candidate.version}/")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    with nothing_written():
        response = context.request.post(
            f"/approvals/{scenario.request.pk}/approve/",
            form={"comment": "forged", "csrfmiddlewaretoken": csrf},
            headers={"Referer": page.url},
            max_redirects=0,
        )
    assert response.status == 403
    assert "Only Reviewers can approve or reject transition requests." in response.text()
    assert not Approval.objects.filter(transition_request=scenario.request).exists()


def test_a_requester_trying_to_approve_their_own_request_sees_a_clear_message(
    page, sign_in, scenario, role_groups, team
):
    both = make_user("pam-both", role_groups["Publishers"], role_groups["Reviewers"], team)
    v4 = register(scenario.model, both)
    services.version_transition(version=v4, to="staging", actor=both)
    req = services.transition_request_create(version=v4, to="production", actor=both)
    sign_in(both)
    page.goto("/models/fraud-detector/versions/4/")
    card = page.locator(f"#request-{req.pk}")
    expect(card).to_contain_text("You requested this promotion, so another reviewer must decide.")
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)

    # Submitting the approval anyway (an old tab, a hand-made form) is refused with a message.
    with nothing_written():
        with page.expect_navigation():
            page.evaluate(
                """(pk) => {
                    const form = document.createElement("form");
                    form.method = "post";
                    form.action = `/approvals/${pk}/approve/`;
                    const token = document.querySelector("input[name=csrfmiddlewaretoken]").cloneNode();
                    form.append(token);
                    document.body.append(form);
                    form.submit();
                }""",
                req.pk,
            )
        alert = page.locator(".message--error")
        expect(alert).to_contain_text("You requested this transition, so you cannot approve or reject it")
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING
    assert not Approval.objects.filter(transition_request=req).exists()


def test_script_and_img_onerror_in_a_description_render_inert(page, sign_in, publisher, reviewer, team):
    payload = (
        "Safe **bold** text.\n\n"
        "<script>window.__xss = 'script'; alert('script')</script>\n\n"
        "<img src=x onerror=\"window.__xss = 'img'; alert('img')\">\n\n"
        "<a href=\"javascript:alert('link')\">click</a>"
    )
    model = services.registered_model_create(name="hostile", team=team, actor=publisher, description=payload)
    v1 = register(model, publisher, metadata={"description": payload, "metrics": {"auc": 0.5}})
    services.version_transition(version=v1, to="staging", actor=publisher)
    services.transition_request_create(version=v1, to="production", actor=publisher, comment=payload)
    sign_in(reviewer)
    for path in ("/models/hostile/", "/models/hostile/versions/1/", "/approvals/", "/"):
        page.goto(path)
        page.wait_for_load_state("load")
        assert page.evaluate("() => window.__xss") is None, path
    page.goto("/models/hostile/")
    card = page.locator(".model-card .prose")
    expect(card.locator("strong")).to_have_text("bold")
    expect(card.locator("script, img, [onerror]")).to_have_count(0)
    expect(card.get_by_role("link", name="click")).to_have_count(0)  # javascript: link stripped
    assert page.dialogs == []
    assert LedgerEntry.objects.filter(registered_model=model).exists()
