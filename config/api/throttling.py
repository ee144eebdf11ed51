"""The API's request throttles (per IP, per user, per API key) on an O(1) counter.

DRF's ``SimpleRateThrottle`` keeps a *sliding log*: the list of every request's
timestamp in the window, unpickled, filtered and pickled back on each request (up
to ``THROTTLE_USER`` = 1,200 floats for a busy user), and written back with a
plain ``get``/``set``, so two processes counting at once lose one of the two
counts. Here each bucket is a *sliding-window counter*: two integers per
(scope, ident), the current fixed window's count and the previous one's, the
previous weighted by how much of it the sliding window still covers (as
Cloudflare and nginx count). One ``get_many`` and one ``incr`` per request,
whatever the rate; ``incr`` is atomic in a shared cache (Redis, memcached,
database), so the limit holds across processes and servers. The estimate never
lets more than the rate through in any window of the rate's length (it assumes
the previous window's requests were spread evenly); at most it refuses a little
early.

Who counts, as before: ``anon`` per client address (``NUM_PROXIES`` =
``TRUSTED_PROXY_COUNT`` decides how much of ``X-Forwarded-For`` is believed);
``integrations.apikeys`` subclasses :class:`SlidingWindowThrottle` for ``user``
(per signed-in person, per address when nobody is) and ``api_key`` (per key).
Rates are read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` on each request
(the dict lookup is cheap; tests and operators change it). A refused request is
not counted, so a client that waits gets its allowance back on time; the 429
carries ``Retry-After`` (:meth:`SlidingWindowThrottle.wait`).
"""

from __future__ import annotations

import contextlib
import math
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/min"`` -> ``(10, 60)``: DRF's notation (the period's first letter counts)."""
    num, period = rate.split("/")
    return int(num), _PERIODS[period.strip()[0]]


def scope_rate(scope: str) -> str | None:
    """The rate of ``scope`` in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (read on
    each call: tests and operators change it)."""
    return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(scope)


def window_hit(key: str, limit: int, duration: int, now: float | None = None) -> int | None:
    """Count one request in the bucket ``key``; ``None`` if it is allowed, else the
    seconds until one would be.

    Two cache round trips on the common path: read both windows' counters at once,
    then ``incr`` the current one (``add`` creates it, ``incr`` again if another
    process created it first). The counter is incremented *before* the decision.
    """
    now = time.time() if now is None else now
    window = int(now // duration)
    elapsed = (now - window * duration) / duration  # 0 <= elapsed < 1
    current, previous_key = f"{key}:{window}", f"{key}:{window - 1}"
    found = cache.get_many([previous_key, current])
    previous = found.get(previous_key, 0)
    # The current window's counter lives on as the next window's "previous" one.
    count = None
    if current in found:
        try:
            count = cache.incr(current)
        except ValueError:  # expired between the read and the incr
            count = None
    if count is None:
        count = 1 if cache.add(current, 1, timeout=2 * duration) else cache.incr(current)
    if previous * (1 - elapsed) + count <= limit:
        return None
    # SECURITY: incremented first, so concurrent requests cannot all pass; the refused
    # one is not counted, as DRF does (a waiting client gets its allowance back).
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
        cache.decr(current)
    return _wait(limit, duration, previous, count - 1, elapsed)


def _wait(limit: int, duration: int, previous: int, current: int, elapsed: float) -> int:
    """Seconds until the estimate leaves room for one more request."""
    if current + 1 > limit or not previous:  # the current window alone is full
        return max(1, math.ceil((1 - elapsed) * duration))
    # previous * (1 - t) + current + 1 <= limit  <=>  t >= 1 - (limit - current - 1) / previous
    needed = 1 - (limit - current - 1) / previous
    return max(1, math.ceil((needed - elapsed) * duration))


class SlidingWindowThrottle(BaseThrottle):
    """A throttle of ``scope``'s rate per :meth:`ident` (``None``: not counted here)."""

    scope = ""
    retry_after: int | None = None

    def ident(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = scope_rate(self.scope)
        if not rate:
            return True
        ident = self.ident(request)
        if ident is None:
            return True
        limit, duration = parse_rate(rate)
        self.retry_after = window_hit(f"throttle:{self.scope}:{ident}", limit, duration)
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after


class AnonRateThrottle(SlidingWindowThrottle):
    """``THROTTLE_ANON`` per client address, for requests nobody is signed in to."""

    scope = "anon"

    def ident(self, request: Request) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)
