"""What the request being served is, for code far from the request: its id (log
lines, error bodies, tasks it enqueues) and the client (the audit trail).

Set by :class:`config.api.middleware.RequestIdMiddleware`; a module of its own so that
the error handler, the audit trail and tasks read it without importing the middleware
(which imports the error handler: that was a cycle).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_client: ContextVar[tuple[str | None, str]] = ContextVar("client", default=(None, ""))
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str:
    return _request_id.get()


def current_client() -> tuple[str | None, str]:
    """(ip address, user agent) of the request being served, for the audit trail."""
    return _client.get()


def use_request_id(request_id: str) -> Any:
    """Make ``request_id`` the current one (a background task continuing a request);
    returns the token for :func:`reset_request_id`."""
    return _request_id.set(request_id)


def reset_request_id(token: Any) -> None:
    _request_id.reset(token)


def safe_request_id(value: str | None) -> str | None:
    return value if value and _SAFE_ID.match(value) else None
