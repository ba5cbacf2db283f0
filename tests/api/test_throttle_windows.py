"""The API throttle counts each caller in two windows (models_app/api/throttling.py): constant work per
request (two counters in the cache, never a list of every request), the budget holds across a window's
edge, and a refusal says when to retry."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIRequestFactory

from models_app.api.throttling import TokenRateThrottle
from models_app.services.tokens import api_token_create


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def throttle_at(settings, reviewer):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "4/minute", "anon": "1000/minute"},
    }
    cache.clear()
    token, _ = api_token_create(user=reviewer, name="windowed")
    request = APIRequestFactory().get("/api/v1/")
    request.auth, request.user = token, reviewer

    def ask(clock: Clock) -> tuple[bool, float | None]:
        throttle = TokenRateThrottle()
        throttle.timer = clock
        allowed = throttle.allow_request(request, None)
        return allowed, throttle.wait()

    return ask


def test_the_budget_holds_across_a_window_edge(throttle_at):
    clock = Clock(60 * 1000 + 50)  # ten seconds before a window ends
    assert [throttle_at(clock)[0] for _ in range(4)] == [True] * 4
    allowed, wait = throttle_at(clock)
    assert allowed is False and 1 <= wait <= 10
    # Just after the edge the previous window still counts almost whole: no second budget at once.
    clock.now = 60 * 1001 + 1
    assert throttle_at(clock)[0] is False
    # Half-way through, half of it has gone: two more requests fit, not a third.
    clock.now = 60 * 1001 + 30
    assert [throttle_at(clock)[0] for _ in range(3)] == [True, True, False]
    # A window later the old requests are gone.
    clock.now = 60 * 1003
    assert [throttle_at(clock)[0] for _ in range(5)] == [True] * 4 + [False]


def test_the_cache_holds_a_counter_per_window_not_a_list_of_requests(throttle_at, reviewer):
    clock = Clock(60 * 2000 + 5)
    for _ in range(3):
        throttle_at(clock)
    token = reviewer.api_tokens.get(name="windowed")
    key = TokenRateThrottle.cache_format % {"scope": "token", "ident": f"token-{token.pk}"}
    assert cache.get(f"{key}:2000") == 3
    assert cache.get(key) is None  # DRF's list of request times is never written
