"""Sign-in through a real OpenID Provider: `oidc-provider` (tests/oidc_provider/op.mjs on Node) on
127.0.0.1, pytest-django's live server and headless Chromium.

The provider's port is known only once it runs, long after pytest-django loaded the settings; so the
`sso` fixture switches sign-in on for one test with the same functions settings.py uses.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User

from models_app.models import ApiToken, OIDCIdentity, RoleSyncRecord
from models_app.sso import config as sign_in_config
from models_app.sso import discovery

# The settings as settings.py made them, sign-in through a provider off (pytest-django loaded them first).
BASE_BACKENDS = list(django_settings.AUTHENTICATION_BACKENDS)
BASE_CSP = django_settings.CONTENT_SECURITY_POLICY
PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc_provider"
CLIENT_ID = "registry-test"
# Characters that HTTP Basic carries only form-urlencoded (RFC 6749 2.3.1): the provider refuses them raw.
CLIENT_SECRET = "registry-test-secret:with%odd/chars+"
PROVIDER_NAME = "Test IdP"
GROUP_MAP = "ml-reviewers=Reviewers,ml-publishers=Publishers,ml-governance=Governance,ml-fraud=fraud-team"

ACCOUNTS = {
    "alice": {
        "password": "alice-pw",
        "sub": "u-1001",
        "email": "alice@example.test",
        "name": "Alice Doe",
        "groups": ["ml-reviewers", "ml-fraud", "unmapped-group"],
    },
    "bob": {
        "password": "bob-pw",
        "sub": "u-1002",
        "email": "bob@example.test",
        "name": "Bob Roe",
        "groups": [],
    },
    "carol": {
        "password": "carol-pw",
        "sub": "u-1003",
        "email": "carol@example.test",
        "name": "Carol Poe",
        "groups": ["ml-governance"],
    },
    "nogroups": {"password": "ng-pw", "sub": "u-1009", "email": "ng@example.test", "name": "No Groups"},
}


def _node_modules() -> None:
    """Install the provider's packages (npm ci, from the committed lock file) when they are missing."""
    if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("the sign-in tests need Node.js and npm (apt-get install nodejs npm; .ci/run does)")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci in {PROVIDER_DIR} failed:\n{result.stdout}\n{result.stderr}")


class Provider:
    """One running `node op.mjs`. Its accounts and tweaks are a JSON file it re-reads at every request."""

    def __init__(self, workdir: Path, *, redirect_uri: str, post_logout_uri: str):
        self.state_path = workdir / "op-state.json"
        self.reset()
        self.proc = subprocess.Popen(
            [
                "node",
                "op.mjs",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--state",
                str(self.state_path),
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
                "--redirect-uri",
                redirect_uri,
                "--post-logout-redirect-uri",
                post_logout_uri,
            ],
            cwd=PROVIDER_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=lambda: [lines.put(line) for line in self.proc.stdout], daemon=True).start()
        threading.Thread(
            target=lambda: [self.stderr.append(line) for line in self.proc.stderr], daemon=True
        ).start()
        info = None
        try:
            while info is None:
                line = lines.get(timeout=30)
                if line.startswith("OIDC-PROVIDER READY "):
                    info = json.loads(line.split(" ", 2)[2])
        except queue.Empty:
            self.stop()
            pytest.fail("the OpenID provider did not start:\n" + "".join(self.stderr))
        self.issuer: str = info["issuer"]

    def write(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"accounts": self.accounts, "tweaks": self.tweaks}))
        tmp.replace(self.state_path)  # atomic: the provider never reads half a file

    def reset(self) -> None:
        self.accounts = json.loads(json.dumps(ACCOUNTS))
        # The consent page costs a round trip per sign-in; the tests about it turn it back on.
        self.tweaks: dict = {"skipConsent": True}
        self.write()

    def tweak(self, **tweaks) -> None:
        self.tweaks.update(tweaks)
        self.write()

    def set_groups(self, login: str, groups: list[str] | None) -> None:
        """The account's groups at the provider (None: the account has no groups claim at all)."""
        if groups is None:
            self.accounts[login].pop("groups", None)
        else:
            self.accounts[login]["groups"] = groups
        self.write()

    def update(self, login: str, **fields) -> None:
        self.accounts[login].update(fields)
        self.write()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="session")
def oidc_provider(live_server, tmp_path_factory):
    _node_modules()
    provider = Provider(
        tmp_path_factory.mktemp("oidc-provider"),
        redirect_uri=f"{live_server.url}/oidc/callback/",
        post_logout_uri=f"{live_server.url}/accounts/login/",
    )
    yield provider
    provider.stop()


def switch_on(settings, issuer: str, **overrides) -> None:
    """What REGISTRY_OIDC_* (and the password switches) in the environment make of settings.py, for one
    test: the same two functions, applied to pytest-django's ``settings`` fixture."""
    password = {key: overrides.pop(key) for key in ("password_login", "break_glass_user") if key in overrides}
    provider = sign_in_config.provider_config(
        issuer=issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        group_map=GROUP_MAP,
        provider_name=PROVIDER_NAME,
        **overrides,
    )
    values = sign_in_config.sign_in_settings(
        provider=provider, backends=BASE_BACKENDS, csp=BASE_CSP, **password
    )
    for name, value in values.items():
        setattr(settings, name, value)
    discovery.clear()


@pytest.fixture(autouse=True)
def _plain_http_cookies(settings):
    # The live server speaks plain http, so cookies must not be Secure-only.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    yield
    discovery.clear()


@pytest.fixture
def sso(settings, oidc_provider, groups):
    """The registry pointed at the test provider, whose accounts are reset; returns the provider."""
    oidc_provider.reset()
    switch_on(settings, oidc_provider.issuer)
    return oidc_provider


@pytest.fixture
def groups(role_groups, team):
    """The registry groups the map names: the three roles and the fraud team."""
    return {**role_groups, "fraud-team": team}


# -- the browser --------------------------------------------------------------------------------------


def _loopback_only(route):
    url = route.request.url
    if urlsplit(url).hostname in ("127.0.0.1", "localhost") or url.startswith(("data:", "about:")):
        return route.continue_()
    return route.abort()  # nothing leaves the machine, whatever a page asks for


@pytest.fixture
def new_page(browser, live_server):
    """``new_page()``: a page in a fresh browser context (its own cookies), recording the URLs of the
    provider's answers (the callback) and of the authorization requests it made."""
    contexts = []

    def _new_page():
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        context.route("**/*", _loopback_only)
        contexts.append(context)
        page = context.new_page()
        page.callback_urls = []
        page.authorization_urls = []

        def on_request(request):
            if request.url.startswith(f"{live_server.url}/oidc/callback/"):
                page.callback_urls.append(request.url)
            elif "/auth?" in request.url and "client_id=" in request.url:
                page.authorization_urls.append(request.url)

        page.on("request", on_request)
        return page

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


# -- driving a sign-in --------------------------------------------------------------------------------


def start_sign_in(page, path: str = "/accounts/login/") -> None:
    page.goto(path)
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()


def provider_login(page, login: str) -> None:
    page.wait_for_selector("text=Sign in to the test provider")
    page.fill("#login", login)
    page.fill("#password", ACCOUNTS[login]["password"])
    page.get_by_role("button", name="Sign in").click()


def consent_if_asked(page) -> None:
    page.wait_for_load_state()
    if page.locator("h1", has_text="Authorize").count():
        page.get_by_role("button", name="Allow").click()
        page.wait_for_load_state()


def sign_in(page, login: str = "alice", path: str = "/accounts/login/") -> None:
    """The whole sign-in: the registry's button, the provider's login form, its consent page."""
    start_sign_in(page, path)
    provider_login(page, login)
    consent_if_asked(page)


def sign_out(page) -> None:
    """The header's "Log out", then the provider's end_session confirmation, back to the login page."""
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url("**/accounts/login/")


def snapshot() -> dict:
    """Everything a refused sign-in must leave as it was."""
    return {
        "users": sorted(
            User.objects.values_list("username", "email", "first_name", "is_active", "is_staff", "last_login")
        ),
        "identities": sorted(
            OIDCIdentity.objects.values_list("issuer", "subject", "user__username", "last_sign_in_at")
        ),
        "memberships": sorted(User.groups.through.objects.values_list("user__username", "group__name")),
        "groups": sorted(Group.objects.values_list("name", flat=True)),
        "records": RoleSyncRecord.objects.count(),
        "tokens": sorted(ApiToken.objects.values_list("pk", "revoked_at")),
    }


def assert_refused(page, code: str, before: dict) -> str:
    """The error page with ``code``, nothing changed, and the browser not signed in; returns the message."""
    page.wait_for_selector("#sso-error-code")
    message = page.locator("#sso-error-message").inner_text()
    assert page.locator("#sso-error-code").inner_text() == code, message
    assert page.locator("h1").inner_text() == f"Sign-in with {PROVIDER_NAME} failed"
    assert snapshot() == before
    page.goto("/")
    assert "/accounts/login/" in page.url
    return message
