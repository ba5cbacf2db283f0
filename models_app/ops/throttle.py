"""The request budget both API doors share (REST and MLflow): a DRF throttle that counts in two windows."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class WindowedRateThrottle(SimpleRateThrottle):
    """DRF's throttle with the rate read from the settings at each request, counted in two windows
    instead of DRF's list of every request's time: DRF pickles that whole list into the cache on every
    request, which costs as much as a version read at a few thousand requests a minute. Here a request costs one read of two counters
    and one increment, whatever the rate. The estimate weights the previous window's count by how much
    of it still lies within the last ``duration`` seconds, so it never lets through twice the budget at
    a window's edge as a plain fixed window would."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window, into = divmod(now, self.duration)
        current, previous = f"{key}:{int(window)}", f"{key}:{int(window) - 1}"
        counts = self.cache.get_many([current, previous])
        weight = 1 - into / self.duration
        if counts.get(previous, 0) * weight + counts.get(current, 0) + 1 > self.num_requests:
            self._wait = max(1.0, self.duration - into)
            return False
        # add() creates the counter only when it is missing (atomic on shared caches); the counter
        # outlives its window by one, while it is the previous window's.
        if not self.cache.add(current, 1, timeout=2 * self.duration + 1):
            try:
                self.cache.incr(current)
            except ValueError:  # expired between add() and incr()
                self.cache.set(current, 1, timeout=2 * self.duration + 1)
        return True

    def wait(self):
        return getattr(self, "_wait", None)
