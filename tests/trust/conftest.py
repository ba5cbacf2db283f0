"""Fixtures for the trust suite."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_throttle_counters():
    """Throttle counters live in the cache; each test starts with a full budget."""
    cache.clear()
    yield
    cache.clear()
