"""The admin's ledger list fits a 1366 px laptop screen: every column, the actor's included, is on screen."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from models_app import services
from tests.browser.test_phone_width import page_width
from tests.ui.scenario import build_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}


def test_the_ledger_list_shows_the_actor_column_at_1366_px(
    browser, live_server, publisher, reviewer, team, governance
):

    scenario = build_scenario(publisher=publisher, reviewer=reviewer, team=team)
    services.transition_request_approve(
        transition_request=scenario.request, actor=reviewer, comment="A long comment explaining " * 6
    )
    context = browser.new_context(base_url=live_server.url, viewport=LAPTOP)
    context.set_default_timeout(10_000)
    try:
        client = Client()
        client.force_login(governance)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        page = context.new_page()
        page.goto("/admin/models_app/ledgerentry/")
        width = page_width(page)
        header = page.locator("th.column-actor_name")
        box = header.bounding_box()
        # On screen, and not clipped by the results' scroll box (which the sidebar and filters narrow).
        results = page.locator("#changelist .results").bounding_box()
        assert box is not None and box["x"] + box["width"] <= results["x"] + results["width"]
        assert page.evaluate(
            "() => { const r = document.querySelector('#changelist .results');"
            " return r.scrollWidth <= r.clientWidth; }"
        )
        cell = page.locator("td.field-actor_name").first
        assert cell.inner_text() in {reviewer.username, publisher.username}
        cbox = cell.bounding_box()
        assert cbox["x"] + cbox["width"] <= results["x"] + results["width"]
        assert page.locator("th.column-stage_change").count() == 1
        assert width["scroll"] == LAPTOP["width"], width
    finally:
        context.close()
