"""Sign-in throttles: per client address (DRF's scoped throttle, which trusts
``X-Forwarded-For`` only through ``TRUSTED_PROXY_COUNT`` proxies) and per account.

The per-account throttle keys on the normalised email the request names, so
spreading attempts over many addresses does not help either. The admin's
login form, which is not a DRF view, counts with :func:`attempt_allowed`.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


def normalise_email(email: Any) -> str:
    return str(email or "").strip().lower()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class AccountRateThrottle(SimpleRateThrottle):
    """Counts requests per account: the view's ``account_throttle_scope`` names the rate
    and ``throttle_account(request)`` the account (``None``: not counted here)."""

    def __init__(self) -> None:  # the rate depends on the view: read in allow_request
        pass

    def get_rate(self) -> str | None:
        from django.conf import settings

        scope = getattr(self.view, "account_throttle_scope", None)
        rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        return rates.get(scope) if scope else None

    def allow_request(self, request: Request, view: Any) -> bool:
        self.view = view
        self.scope = getattr(view, "account_throttle_scope", None)
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        account = view.throttle_account(request)
        if not account:
            return None
        return self.cache_format % {"scope": self.scope, "ident": _digest(account)}


def attempt_allowed(scope: str, ident: str, rate: str) -> bool:
    """Record one attempt of ``ident`` under ``scope``; False once ``rate`` is exceeded.

    The same sliding-window history DRF's throttles keep, in the same cache.
    """
    num, period = rate.split("/")
    limit = int(num)
    duration = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
    key = f"throttle_{scope}_{_digest(ident)}"
    now = time.time()
    history = [t for t in cache.get(key, []) if t > now - duration]
    if len(history) >= limit:
        return False
    history.insert(0, now)
    cache.set(key, history, duration)
    return True
