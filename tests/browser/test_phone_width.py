"""Every page of the reviewer UI at a phone's width (390 px): the page itself never scrolls sideways.

One browser context visits every page in turn (signed in as a superuser, who sees every page and every
action, then signed out for the sign-in page); each page is measured after it loaded.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from models_app import services
from tests.conftest import register
from tests.ui.scenario import build_scenario, metadata

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LONG_RUN_URL = "https://mlflow.example.com/#/experiments/1234567890/runs/" + "0123456789abcdef" * 6


# The page's width, and (to say what to fix) the outermost elements that stick out past the viewport.
MEASURE = """() => {
  const viewport = window.innerWidth;
  const culprits = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right <= viewport + 0.5 || box.width === 0) continue;
    let parent = el.parentElement, inside = false;
    while (parent && parent !== document.body) {
      const style = getComputedStyle(parent);
      if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX) || culprits.includes(parent)) {
        inside = true;
        break;
      }
      parent = parent.parentElement;
    }
    if (!inside) culprits.push(el);
  }
  return {
    scroll: document.documentElement.scrollWidth,
    viewport,
    culprits: culprits.slice(0, 5).map((el) => el.tagName.toLowerCase() + "." + el.className),
  };
}"""


def page_width(page) -> dict:
    return page.evaluate(MEASURE)


@pytest.fixture
def wide_state(publisher, reviewer, team, superuser, settings):
    settings.REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    scenario = build_scenario(publisher=publisher, reviewer=reviewer, team=team)
    # A version whose lineage has the things that overflow a phone: a long run URL, long metric and
    # parameter names, many metrics.
    data = metadata(4, auc=0.95, loss=0.30, lr=0.01, parent=3)
    data["run_url"] = LONG_RUN_URL
    data["metrics"].update({f"precision_at_recall_{n}_percent_holdout_eu": 0.5 + n / 100 for n in range(8)})
    data["parameters"]["a_rather_long_parameter_name_for_the_feature_pipeline"] = "x" * 80
    wide = register(scenario.model, publisher, metadata=data)
    services.webhook_subscription_create(
        url="http://127.0.0.1:9/a/very/long/receiver/path/for/the/continuous/delivery/hook",
        actor=publisher,
        registered_model=scenario.model,
        event_types=["stage.changed"],
    )
    return scenario, wide


def test_every_page_fits_a_phone_without_sideways_scrolling(
    browser, live_server, wide_state, superuser, norole
):
    scenario, wide = wide_state
    name = scenario.model.name
    pages = [
        "/",
        "/models/",
        f"/models/{name}/",
        f"/models/{name}/history/",
        f"/models/{name}/history/?at=" + timezone.now().isoformat().replace("+", "%2B"),
        f"/models/{name}/compare/?versions=2,3,{wide.version}",
        f"/models/{name}/versions/{wide.version}/",
        f"/models/{name}/versions/{scenario.candidate.version}/",
        f"/models/{name}/versions/{scenario.archived.version}/",
        f"/models/{name}/webhooks/",
        "/approvals/",
        "/approvals/?status=all",
        "/audit/",
        "/audit/?version=abc",
        "/audit/?kind=approved",
        "/models/no-such-model/",
    ]
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    try:
        client = Client()
        client.force_login(superuser)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        page = context.new_page()
        too_wide = {}
        for path in pages:
            response = page.goto(path)
            assert response.status in (200, 404), (path, response.status)
            width = page_width(page)
            if width["scroll"] != PHONE["width"] or width["viewport"] != PHONE["width"]:
                too_wide[path] = width
        # The content a phone user needs is still reachable: the compare page's values and deltas are
        # in a scroll region that says so, and the version page's run link is on screen.
        page.goto(f"/models/{name}/compare/?versions=2,3,{wide.version}")
        region = page.locator(".table-scroll").first
        assert region.get_attribute("tabindex") == "0"
        assert region.get_attribute("aria-label")
        page.goto(f"/models/{name}/versions/{wide.version}/")
        link = page.locator(f'a[href="{LONG_RUN_URL}"]')
        box = link.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        # The audit trail and the inbox keep every column: each row is a card whose cells carry their
        # column's name, all on screen.
        for path in ("/audit/", "/"):
            page.goto(path)
            row = page.locator(".table--ledger tbody tr").first
            labels = row.locator("td").evaluate_all(
                "cells => cells.map(c => getComputedStyle(c, '::before').content)"
            )
            assert labels == [
                '"When"',
                '"Model"',
                '"Version"',
                '"What"',
                '"Stage change"',
                '"Actor"',
                '"Comment"',
            ]
            for cell in row.locator("td").all():
                cell_box = cell.bounding_box()
                assert cell_box["x"] >= 0 and cell_box["x"] + cell_box["width"] <= PHONE["width"]
            assert row.locator('td[data-label="Actor"]').inner_text().strip()

        # Signed in without a role: the 403 page; signed out: the sign-in page.
        context.clear_cookies()
        client.force_login(norole)
        context.add_cookies(
            [
                {
                    "name": django_settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        assert page.goto("/models/").status == 403
        if page_width(page)["scroll"] != PHONE["width"]:
            too_wide["403 /models/"] = page_width(page)
        context.clear_cookies()
        page.goto("/accounts/login/")
        width = page_width(page)
        if width["scroll"] != PHONE["width"]:
            too_wide["/accounts/login/"] = width
        assert too_wide == {}
    finally:
        context.close()
