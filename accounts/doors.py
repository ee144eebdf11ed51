"""What every door that checks a password or a code, or sends mail, calls.

A door is a way in: the API's auth routes, the HTML pages that email links open
(:mod:`accounts.pages`), the admin's login form. Each asks :func:`door_check` to count
the attempt in the buckets of :mod:`accounts.throttling` — the same scopes, rates and
counters as the API's throttles, so attempts made at different doors add up — and
records each refused sign-in with :func:`sign_in_failed`.

Scopes a door counts in (rates: ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``):

- signing in with a password: ``login`` per address, ``login_account`` per email;
- checking a TOTP or recovery code: ``mfa`` per address, ``mfa`` per account
  (``mfa:<user id>``, the key the API's ``POST /auth/token/mfa/`` counts in);
- asking for a reset email: ``password_reset`` per address,
  ``password_reset_account`` per email; using a reset link: ``password_reset``;
- using a verification link: ``verify_email``; signing up: ``signup``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from accounts import services
from accounts.models import User
from accounts.throttling import Refused, hit, normalise_email, request_ident


def by_address(request: Any, *scopes: str) -> list[tuple[str, str]]:
    """The per-address buckets of ``scopes`` for ``request``."""
    ident = request_ident(request)
    return [(scope, ident) for scope in scopes]


def by_email(scope: str, email: Any) -> list[tuple[str, str]]:
    """The per-account bucket of ``scope`` for the account ``email`` names (none if blank)."""
    account = normalise_email(email)
    return [(scope, account)] if account else []


def mfa_account(user_id: Any) -> str:
    """The per-account ident of the ``mfa`` scope: the user's id, whichever door."""
    return f"mfa:{user_id}"


def door_check(buckets: Iterable[tuple[str, str]]) -> Refused | None:
    """Count one attempt in every bucket ``(scope, ident)``; the refusal with the longest
    wait if any bucket is full, else ``None``.

    Every bucket is counted even when an earlier one refused (as DRF checks every
    throttle of a view), so the per-account count cannot be dodged by first
    exhausting the per-address one.
    """
    refusals = [refused for scope, ident in buckets if (refused := hit(scope, ident))]
    return max(refusals, key=lambda refused: refused.wait) if refusals else None


def sign_in_failed(*, email: Any, user: User | None, reason: str, via: str) -> None:
    """Audit a refused sign-in (``user.login_failed``), never the password.

    ``user`` defaults to the account ``email`` names. The caller must not be inside a
    transaction that it rolls back afterwards (a page's failed POST): the event has to
    survive the refusal, so a door records it outside its own unit of work.
    """
    email = normalise_email(email)
    if user is None and email:
        user = User.objects.filter(email__iexact=email).first()
    services.login_failed_record(email=email, user=user, reason=reason, via=via)
