"""Retiring the Production version in headless Chromium with JavaScript turned off: no stage form offers
Archived, "Request retirement" asks for a reason, a confirmation step names the version that leaves
Production and says the model will have none, and a second reviewer's approval applies it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from models_app.choices import RequestStatus, Stage
from models_app.models import TransitionRequest
from tests.ui.scenario import build_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def context(browser, live_server):
    """Without JavaScript: the flow is plain forms and redirects."""
    ctx = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def scenario(publisher, reviewer, team):
    return build_scenario(publisher=publisher, reviewer=reviewer, team=team)


def test_the_production_version_is_retired_by_request_with_a_confirmation_step(
    page, sign_in, scenario, publisher, reviewer2
):
    sign_in(publisher)
    page.goto("/models/fraud-detector/versions/2/")
    expect(page.locator("#version-stage")).to_contain_text("Production")
    # No stage form on the Production version, so nothing preselects Archived.
    expect(page.locator("#transition-to")).to_have_count(0)
    retire = page.locator("#retire-form")
    expect(retire.get_by_role("heading", name="Request retirement")).to_be_visible()
    retire.get_by_label(re.compile("^Reason")).fill("Replaced by the rules engine.")
    retire.get_by_role("button", name="Request retirement").click()

    # The confirmation step: which version leaves Production, and that none will be left.
    expect(page.get_by_role("heading", level=1)).to_have_text("Request the retirement of fraud-detector v2")
    consequence = page.locator("#retire-consequence")
    expect(consequence).to_contain_text("v2 leaves Production")
    expect(consequence).to_contain_text("fraud-detector will have no Production version")
    expect(page.get_by_label(re.compile("^Reason"))).to_have_value("Replaced by the rules engine.")
    assert not TransitionRequest.objects.filter(
        version=scenario.production, target_stage=Stage.ARCHIVED
    ).exists()
    page.get_by_role("button", name="Confirm: request the retirement of v2").click()

    expect(page).to_have_url(re.compile(r"/models/fraud-detector/versions/2/$"))
    expect(page.get_by_text(re.compile(r"Requested the retirement of v2 from Production"))).to_be_visible()
    req = TransitionRequest.objects.get(version=scenario.production, target_stage=Stage.ARCHIVED)
    assert (req.target_stage, req.status, req.comment) == (
        Stage.ARCHIVED,
        RequestStatus.PENDING,
        "Replaced by the rules engine.",
    )
    scenario.production.refresh_from_db()
    assert scenario.production.stage == Stage.PRODUCTION

    # Another reviewer approves on the approvals page; then the model has no Production version.
    sign_in(reviewer2)
    page.goto("/approvals/")
    card = page.locator(f"#request-{req.pk}")
    expect(card).to_contain_text("retirement")
    card.get_by_label(re.compile("^Comment")).fill("Agreed.")
    card.get_by_role("button", name="Approve").click()
    # The decision's confirmation step says what the approval changes before anything moves.
    expect(page.get_by_text("v2 leaves Production and is archived.")).to_be_visible()
    expect(page.get_by_text("fraud-detector will have no Production version.")).to_be_visible()
    page.get_by_role("button", name="Approve: v2 leaves Production").click()
    expect(
        page.get_by_text(re.compile("v2 left Production; fraud-detector has no Production version"))
    ).to_be_visible()
    scenario.production.refresh_from_db()
    assert scenario.production.stage == Stage.ARCHIVED

    page.goto("/models/fraud-detector/")
    expect(page.locator("#no-production-notice")).to_contain_text("fraud-detector has no Production version")
    page.goto("/models/")
    row = page.get_by_role("row", name=re.compile("^fraud-detector"))
    expect(row.locator(".no-production")).to_contain_text("No Production version")


def test_keeping_the_version_on_the_confirmation_step_writes_nothing(page, sign_in, scenario, publisher):
    sign_in(publisher)
    page.goto("/models/fraud-detector/versions/2/")
    page.locator("#retire-form").get_by_label(re.compile("^Reason")).fill("Maybe.")
    page.locator("#retire-form").get_by_role("button", name="Request retirement").click()
    page.get_by_role("link", name="Keep v2 in Production").click()
    expect(page).to_have_url(re.compile(r"/models/fraud-detector/versions/2/$"))
    assert not TransitionRequest.objects.filter(
        version=scenario.production, target_stage=Stage.ARCHIVED
    ).exists()
