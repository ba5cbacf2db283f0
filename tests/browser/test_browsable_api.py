"""DRF's browsable API in Chromium for a signed-in user: it renders under the site's CSP."""

from __future__ import annotations

import pytest

from tests.conftest import register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_signed_in_browser_reads_the_api_as_pages(page, sign_in, registered_model, publisher):
    register(registered_model, publisher)
    sign_in(publisher)
    console = []
    page.on("console", lambda message: console.append(message.text))
    response = page.goto("/api/v1/")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert page.locator(".response-info").inner_text().count("/api/v1/models/") >= 1
    page.goto("/api/v1/models/fraud-detector/versions/1/")
    body = page.locator(".response-info").inner_text()
    assert '"model": "fraud-detector"' in body and '"version": 1' in body
    # The page's own scripts and styles load ('self'); nothing was refused by the Content-Security-Policy.
    assert page.evaluate("() => typeof window.jQuery") == "function"
    assert [m for m in console if "Content Security Policy" in m] == []
