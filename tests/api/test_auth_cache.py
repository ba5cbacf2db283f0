"""The per-process token cache (REGISTRY_AUTH_CACHE_SECONDS): a revocation, deactivation or role change
made by another process takes effect within that many seconds; with the cache off, at once; made in this
process, at once."""

import pytest
from django.contrib.auth.models import User

from models_app.models import ApiToken
from models_app.services import tokens
from tests.conftest import register

URL = "/api/v1/models/fraud-detector/versions/1/"


@pytest.fixture
def clock(monkeypatch):
    """The cache's monotonic clock, moved by hand: no test sleeps or races the real one."""
    now = [1000.0]
    monkeypatch.setattr(tokens, "_clock", lambda: now[0])
    return now


@pytest.fixture
def version(registered_model, publisher):
    return register(registered_model, publisher, files={"a.bin": b"a"})


def _revoke_elsewhere(user) -> None:
    """Another process revoking: a plain UPDATE, which sends no signal here."""
    from django.utils import timezone

    ApiToken.objects.filter(user=user).update(revoked_at=timezone.now())


def test_a_token_revoked_elsewhere_is_refused_after_the_ttl(api, publisher, version, settings, clock):
    settings.REGISTRY_AUTH_CACHE_SECONDS = 2
    client = api(publisher)
    assert client.get(URL).status_code == 200
    _revoke_elsewhere(publisher)
    clock[0] += 1.5
    assert client.get(URL).status_code == 200  # still within the 2 seconds
    clock[0] += 0.6
    response = client.get(URL)
    assert response.status_code == 401
    assert "revoked" in str(response.json())


def test_with_the_cache_off_a_revoked_token_is_refused_at_once(api, publisher, version, settings, clock):
    settings.REGISTRY_AUTH_CACHE_SECONDS = 0
    client = api(publisher)
    assert client.get(URL).status_code == 200
    _revoke_elsewhere(publisher)
    assert client.get(URL).status_code == 401


def test_a_user_deactivated_elsewhere_is_refused_after_the_ttl(api, publisher, version, settings, clock):
    settings.REGISTRY_AUTH_CACHE_SECONDS = 2
    client = api(publisher)
    assert client.get(URL).status_code == 200
    User.objects.filter(pk=publisher.pk).update(is_active=False)
    assert client.get(URL).status_code == 200
    clock[0] += 2.0
    assert client.get(URL).status_code == 401


def test_a_revocation_in_this_process_takes_effect_at_once(api, publisher, version, settings, clock):
    settings.REGISTRY_AUTH_CACHE_SECONDS = 60
    client = api(publisher)
    assert client.get(URL).status_code == 200
    tokens.api_token_revoke(token=ApiToken.objects.get(user=publisher))
    assert client.get(URL).status_code == 401


def test_a_role_removed_in_this_process_takes_effect_at_once(api, publisher, version, settings, clock):
    settings.REGISTRY_AUTH_CACHE_SECONDS = 60
    client = api(publisher)
    assert client.get(URL).status_code == 200
    publisher.groups.clear()
    response = client.get(URL)
    assert response.status_code == 403


def test_an_expiry_date_is_checked_on_every_request(api, publisher, version, settings, clock):
    from datetime import timedelta

    from django.utils import timezone

    settings.REGISTRY_AUTH_CACHE_SECONDS = 60
    client = api(publisher)
    assert client.get(URL).status_code == 200
    token = ApiToken.objects.get(user=publisher)
    cached = tokens._CACHE[token.token_hash][1]
    cached.expires_at = timezone.now() - timedelta(seconds=1)  # as if the expiry had just passed
    assert client.get(URL).status_code == 401
