"""Deciding from the compare page, and the confirmation step with JavaScript turned off, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.models import Approval, LedgerEntry
from tests.ui.scenario import build_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scenario(publisher, reviewer, team):
    return build_scenario(publisher=publisher, reviewer=reviewer, team=team)


@pytest.fixture
def no_js_page(browser, live_server):
    """A page in a context with JavaScript disabled: plain forms only."""
    ctx = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    ctx.set_default_timeout(10_000)
    yield ctx, ctx.new_page()
    ctx.close()


def test_a_reviewer_compares_and_approves_on_the_compare_page(page, sign_in, scenario, reviewer):
    sign_in(reviewer)
    page.goto("/models/fraud-detector/compare/?versions=2,3")
    panel = page.locator(f"#decide-{scenario.request.pk}")
    expect(panel).to_contain_text("Better AUC on the March data.")
    # Files, signature and lineage are on the same page.
    files = page.locator("section", has=page.get_by_role("heading", name="Files", exact=True))
    expect(files.get_by_role("row", name=re.compile(r"^conf.settings\.json"))).to_contain_text("added")
    expect(files.get_by_role("row", name=re.compile(r"^model\.bin"))).to_contain_text("changed SHA-256")
    lineage = page.get_by_role("img", name="Lineage of v3")
    expect(lineage).to_be_visible()
    assert lineage.locator("a").count() == 3

    panel.get_by_label(re.compile("^Comment")).fill("Compared with v2: ship.")
    panel.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Approve request #{scenario.request.pk} (fraud-detector v3)?"
    )
    expect(page.locator(".confirmation__changes li")).to_have_text(
        ["v3 enters Production.", "v2 is archived."]
    )
    assert not Approval.objects.filter(transition_request=scenario.request).exists()  # nothing yet
    page.get_by_role("button", name="Approve: v3 to Production").click()

    expect(page).to_have_url(re.compile(r"/models/fraud-detector/compare/\?versions=2,3$"))
    expect(page.locator(".message--success")).to_contain_text("v3 is now in Production")
    expect(page.locator(f"#decide-{scenario.request.pk}")).to_have_count(0)
    scenario.candidate.refresh_from_db()
    assert scenario.candidate.stage == Stage.PRODUCTION
    row = LedgerEntry.objects.get(version=scenario.candidate, kind=LedgerKind.APPROVED)
    assert row.comment == "Compared with v2: ship."
    assert page.dialogs == []


def test_the_requester_sees_why_they_cannot_decide_on_the_compare_page(page, sign_in, scenario, publisher):
    sign_in(publisher)
    page.goto("/models/fraud-detector/compare/?versions=2,3")
    panel = page.locator(f"#decide-{scenario.request.pk}")
    expect(panel).to_contain_text("You requested this transition, so you cannot approve or reject it")
    expect(panel.get_by_role("button")).to_have_count(0)


def test_without_javascript_a_rejection_and_a_rollback_are_confirmed_first(
    no_js_page, live_server, scenario, reviewer
):
    _ctx, page = no_js_page
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(reviewer.username)
    page.get_by_label("Password").fill("pw-rita-reviewer")
    page.get_by_role("button", name="Sign in").click()

    page.goto("/approvals/")
    card = page.locator(f"#request-{scenario.request.pk}")
    card.get_by_label(re.compile("^Comment")).fill("Latency regressed.")
    card.get_by_role("button", name="Reject").click()
    # A full page (no htmx without JavaScript) that says what will change.
    expect(page.locator(".confirmation__changes li")).to_have_text(
        [
            f"Request #{scenario.request.pk} is closed as rejected.",
            "v3 stays in Staging.",
            "Production is unchanged (v2).",
        ]
    )
    scenario.request.refresh_from_db()
    assert scenario.request.status == RequestStatus.PENDING
    page.get_by_role("button", name=f"Reject request #{scenario.request.pk}").click()
    expect(page.locator(".message--success")).to_contain_text(f"Rejected request #{scenario.request.pk}")
    scenario.request.refresh_from_db()
    assert scenario.request.status == RequestStatus.REJECTED
    assert Approval.objects.get(transition_request=scenario.request).comment == "Latency regressed."

    # Roll back to v1: the confirmation names both versions; Cancel changes nothing.
    page.goto("/models/fraud-detector/versions/1/")
    page.get_by_label(re.compile("^Reason")).fill("v2 misroutes EU traffic")
    page.get_by_role("button", name="Roll back to v1").click()
    expect(page.locator(".confirmation__changes li")).to_have_text(
        ["v1 returns to Production.", "v2 is archived."]
    )
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/models/fraud-detector/versions/1/$"))
    scenario.archived.refresh_from_db()
    assert scenario.archived.stage == Stage.ARCHIVED
    page.get_by_label(re.compile("^Reason")).fill("v2 misroutes EU traffic")
    page.get_by_role("button", name="Roll back to v1").click()
    page.get_by_role("button", name="Roll back to v1").click()
    expect(page.locator(".message--success")).to_contain_text("Rolled back: v1 is in Production again.")
    scenario.archived.refresh_from_db()
    assert scenario.archived.stage == Stage.PRODUCTION
