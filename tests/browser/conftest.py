"""Real headless Chromium (Debian's package) driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

# The session's Chromium (``browser``) comes from tests/browser_fixtures.py, shared with tests/sso.


@pytest.fixture(autouse=True)
def browser_settings(settings):
    # The live server speaks plain http on 127.0.0.1, so cookies must not be Secure-only.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


class Dialogs(list):
    """Every alert/confirm/prompt the page tried to open (each is dismissed)."""


@pytest.fixture
def context(browser, live_server):
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.dialogs = Dialogs()

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


@pytest.fixture
def sign_in(context, live_server):
    """Put a signed-in session cookie for ``user`` into the browser (skips the login form)."""

    def _sign_in(user) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )

    return _sign_in
