"""Attempt counters: one sliding-window counter that every door counts with.

A rate is DRF's notation (``"10/min"``, ``"3/hour"``) and its scope names a bucket:
the API's throttles (:class:`DoorRateThrottle`, :class:`AccountRateThrottle`), the
pages of :mod:`accounts.pages` and the admin's login form all count through
:func:`hit`, so an attempt made at one door uses up the allowance of the others.
:mod:`accounts.doors` is what a door calls (which buckets, and the failure audit).

Each check is O(1): the API throttles' sliding-window counter
(:func:`config.api.throttling.window_hit`: two fixed windows as integers, the
previous weighted by how much of it the sliding window still covers) — not DRF's
pickled list of every timestamp, which grows with the rate.

Who counts: per client address (``client_ip()``, which trusts ``X-Forwarded-For``
only through ``TRUSTED_PROXY_COUNT`` proxies) and per account (the normalised
email the request names), so spreading attempts over many addresses does not help.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.api.client_ip import client_ip
from config.api.throttling import parse_rate, scope_rate, window_hit


def normalise_email(email: Any) -> str:
    return str(email or "").strip().lower()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Refused:
    """A refused attempt: its bucket and how long until one is allowed again."""

    scope: str
    wait: int


def hit(scope: str, ident: str, rate: str | None = None) -> Refused | None:
    """Count one attempt of ``ident`` in ``scope``; ``None`` if it is allowed.

    ``rate`` defaults to the scope's API rate (:func:`scope_rate`); a scope without
    a rate is not limited. The counter is the API throttles' own
    (:func:`config.api.throttling.window_hit`); a refused attempt is not counted, so a
    client that waits gets its allowance back on time.
    """
    rate = rate or scope_rate(scope)
    if not rate:
        return None
    limit, duration = parse_rate(rate)
    wait = window_hit(f"door:{scope}:{_digest(ident)}", limit, duration)
    return None if wait is None else Refused(scope=scope, wait=wait)


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
