"""The handshake between the ASGI router and the events view.

A live stream starts as an ordinary API request: the router (``realtime/asgi.py``)
hands ``GET …/events/`` to Django first, with a header only this process knows, so
authentication, throttles, the organization, the matrix (principal kind, key scopes,
role), ``require_mfa`` and the query's validation run exactly as on every other route
and every refusal is the API's error shape. A view that admits the caller answers the
router with a *grant* (the :class:`~realtime.feed.Subscription`, in a response header
the router swallows) instead of a body; the router then streams. Without the header —
a WSGI server, the test client — the view answers what the client missed and closes
(``EventSource`` reconnects after ``retry``).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import orjson

from organizations.permissions import Principal
from realtime.feed import Subscription
from realtime.visibility import Audience

# SECURITY: per process, never sent to a client; the router strips a client's copy.
MARKER = secrets.token_urlsafe(32)
MARKER_HEADER = b"x-realtime-handshake"
GRANT_HEADER = "X-Realtime-Grant"


def from_router(meta: dict[str, Any]) -> bool:
    return secrets.compare_digest(meta.get("HTTP_X_REALTIME_HANDSHAKE", ""), MARKER)


def encode(sub: Subscription) -> str:
    return orjson.dumps(
        {
            "org": str(sub.organization_id),
            "user": str(sub.user_id),
            "kind": sub.audience.kind.value,
            "role": sub.audience.role,
            "scopes": list(sub.audience.scopes),
            "session": str(sub.session_id) if sub.session_id else None,
            "key": str(sub.api_key_id) if sub.api_key_id else None,
            "topics": sorted(sub.topics),
            "projects": sorted(map(str, sub.project_ids)),
            "sites": sorted(map(str, sub.site_ids)),
            "last": sub.last_event_id,
            "request_id": sub.request_id,
        }
    ).decode()


def decode(value: bytes | str) -> Subscription:
    g = orjson.loads(value)
    return Subscription(
        organization_id=uuid.UUID(g["org"]),
        user_id=uuid.UUID(g["user"]),
        audience=Audience(Principal(g["kind"]), g["role"], tuple(g["scopes"])),
        session_id=uuid.UUID(g["session"]) if g["session"] else None,
        api_key_id=uuid.UUID(g["key"]) if g["key"] else None,
        topics=frozenset(g["topics"]),
        project_ids=frozenset(map(uuid.UUID, g["projects"])),
        site_ids=frozenset(map(uuid.UUID, g["sites"])),
        last_event_id=g["last"],
        request_id=g["request_id"],
    )
