"""Attempt counters: one sliding-window counter that every door counts with.

A rate is DRF's notation (``"10/min"``, ``"3/hour"``) and its scope names a bucket:
the API's throttles (:class:`DoorRateThrottle`, :class:`AccountRateThrottle`), the
pages of :mod:`accounts.pages` and the admin's login form all count through
:func:`hit`, so an attempt made at one door uses up the allowance of the others.
:mod:`accounts.doors` is what a door calls (which buckets, and the failure audit).

Each check is O(1): a *sliding-window counter* (two fixed windows, the previous
one weighted by how much of it still overlaps the sliding window, as Cloudflare
and nginx count), kept as integers with ``cache.add``/``cache.incr`` — not DRF's
pickled list of every timestamp, which grows with the rate. The estimate never
lets more than the rate through in any window of the rate's length; at most it
refuses a little early.

Who counts: per client address (``client_ip()``, which trusts ``X-Forwarded-For``
only through ``TRUSTED_PROXY_COUNT`` proxies) and per account (the normalised
email the request names), so spreading attempts over many addresses does not help.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.api.client_ip import client_ip

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def normalise_email(email: Any) -> str:
    return str(email or "").strip().lower()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/min"`` -> ``(10, 60)``: DRF's notation (the period's first letter counts)."""
    num, period = rate.split("/")
    return int(num), _PERIODS[period.strip()[0]]


def scope_rate(scope: str) -> str | None:
    """The rate of ``scope`` in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (read on
    each call: tests and operators change it)."""
    return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(scope)


@dataclass(frozen=True)
class Refused:
    """A refused attempt: its bucket and how long until one is allowed again."""

    scope: str
    wait: int


def _key(scope: str, ident: str, window: int) -> str:
    return f"door:{scope}:{_digest(ident)}:{window}"


def hit(scope: str, ident: str, rate: str | None = None) -> Refused | None:
    """Count one attempt of ``ident`` in ``scope``; ``None`` if it is allowed.

    ``rate`` defaults to the scope's API rate (:func:`scope_rate`); a scope without
    a rate is not limited. A refused attempt is not counted (as DRF does), so a
    client that waits gets its allowance back on time.
    """
    rate = rate or scope_rate(scope)
    if not rate:
        return None
    limit, duration = parse_rate(rate)
    now = time.time()
    window = int(now // duration)
    elapsed = (now - window * duration) / duration  # 0 <= elapsed < 1
    current = _key(scope, ident, window)
    previous = cache.get(_key(scope, ident, window - 1), 0)
    # The current window's counter lives on as the next window's "previous" one.
    cache.add(current, 0, timeout=2 * duration)
    try:
        count = cache.incr(current)
    except ValueError:  # expired between add and incr
        cache.set(current, 1, timeout=2 * duration)
        count = 1
    if previous * (1 - elapsed) + count <= limit:
        return None
    cache.decr(current)  # SECURITY: incr first, so concurrent attempts cannot all pass
    return Refused(scope=scope, wait=_wait(limit, duration, previous, count - 1, elapsed))


def _wait(limit: int, duration: int, previous: int, current: int, elapsed: float) -> int:
    """Seconds until the estimate leaves room for one more attempt."""
    if current + 1 > limit:  # the current window alone is full: wait for the next
        return max(1, math.ceil((1 - elapsed) * duration))
    # previous * (1 - t) + current + 1 <= limit  <=>  t >= 1 - (limit - current - 1) / previous
    needed = 1 - (limit - current - 1) / previous
    return max(1, math.ceil((needed - elapsed) * duration))


def attempt_allowed(scope: str, ident: str, rate: str) -> bool:
    """Record one attempt of ``ident`` under ``scope``; False once ``rate`` is exceeded.

    The admin's login form counts with this (it has rates of its own).
    """
    return hit(scope, ident, rate) is None


def request_ident(request: Any) -> str:
    """Who a request is for the per-address buckets: the signed-in user of an API
    request (as DRF's scoped throttle), else the client address."""
    user = getattr(request, "user", None)
    if (
        user is not None
        and getattr(user, "is_authenticated", False)
        and isinstance(request, Request)
    ):
        return f"user:{user.pk}"
    return f"addr:{client_ip(request) or 'unknown'}"


# --- the API's face of the same counters --------------------------------------------


class _CountingThrottle(BaseThrottle):
    refused: Refused | None = None

    def wait(self) -> float | None:
        return self.refused.wait if self.refused else None


class DoorRateThrottle(_CountingThrottle):
    """The view's ``throttle_scope`` per client address (per user when signed in):
    DRF's ``ScopedRateThrottle``, counted with :func:`hit`."""

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return True
        self.refused = hit(scope, request_ident(request))
        return self.refused is None


class AccountRateThrottle(_CountingThrottle):
    """Counts requests per account: the view's ``account_throttle_scope`` names the rate
    and ``throttle_account(request)`` the account (``None``: not counted here)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "account_throttle_scope", None)
        account = view.throttle_account(request) if scope else None
        if not account:
            return True
        self.refused = hit(scope, account)
        return self.refused is None
