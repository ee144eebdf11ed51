"""The feed's wire format and its reads, shared by the live hub (async) and the
WSGI answer (sync).

An event on the wire (``text/event-stream``)::

    id: 42
    event: page_comment.created
    data: {"sequence": 42, "action": "page_comment.created", "type": "sites.pagecomment", ...}

``id`` is the organization's audit sequence number: a client that reconnects sends it
back as ``Last-Event-ID`` and gets what it missed from the audit trail, the durable log.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.utils import timezone

from realtime.catalog import area_of
from realtime.visibility import Audience, Event, admits, decide

EVENTS_SQL = (
    "SELECT sequence, action, actor_type, actor_id, target_type, target_id, changes,"
    " created_at, project_id, project_private, project_members, site_id"
    " FROM app.realtime_events(%s, %s, %s, %s)"
)
HEAD_SQL = "SELECT app.realtime_head(%s, %s)"
ACCESS_SQL = "SELECT stream, role, suspended, lost_projects FROM app.realtime_access(%s)"


def event_from_row(row: tuple[Any, ...]) -> Event:
    (seq, action, actor_type, actor_id, target_type, target_id, changes, created_at) = row[:8]
    project_id, private, members, site_id = row[8:]
    if isinstance(changes, str):
        changes = orjson.loads(changes)
    return Event(
        sequence=seq,
        action=action,
        actor_type=actor_type,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        changes=changes or {},
        created_at=created_at,
        project_id=project_id,
        project_private=bool(private),
        project_members=frozenset(members or ()),
        site_id=site_id,
    )


def document(event: Event) -> dict[str, Any]:
    """``data:`` of an event: what a client needs to update its view."""
    area = area_of(event.action)
    return {
        "sequence": event.sequence,
        "action": event.action,
        "topic": area.topic if area else None,
        "type": event.target_type,
        "id": event.target_id,
        "project": str(event.project_id) if event.project_id else None,
        "site": str(event.site_id) if event.site_id else None,
        "actor": {
            "type": event.actor_type,
            "id": str(event.actor_id) if event.actor_id else None,
        },
        "changes": event.changes,
        "at": event.created_at.isoformat() if event.created_at else None,
    }


def frame(event: str, data: Any, *, id: int | None = None) -> bytes:
    """One SSE message. ``data`` is JSON on one line (orjson never emits a newline)."""
    head = f"id: {id}\n" if id is not None else ""
    return f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def event_frame(event: Event) -> bytes:
    return frame(event.action, document(event), id=event.sequence)


def retry_frame() -> bytes:
    return f"retry: {settings.REALTIME_RETRY_MS}\n\n".encode()


HEARTBEAT = b": keepalive\n\n"


@dataclass(frozen=True)
class Subscription:
    """What the handshake granted: who listens, to what, from where."""

    organization_id: uuid.UUID
    user_id: uuid.UUID
    audience: Audience
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    topics: frozenset[str] = frozenset()
    project_ids: frozenset[uuid.UUID] = frozenset()
    site_ids: frozenset[uuid.UUID] = frozenset()
    last_event_id: int | None = None
    request_id: str = ""

    @property
    def limit_key(self) -> str:
        """Whose stream it is, for the per-user limit (a key counts as itself)."""
        return f"key:{self.api_key_id}" if self.api_key_id else f"user:{self.user_id}"

    def wants(self, event: Event) -> bool:
        """The topic filter (no topics: everything the subscriber may read)."""
        if not (self.topics or self.project_ids or self.site_ids):
            return True
        area = area_of(event.action)
        return (
            (area is not None and area.topic in self.topics)
            or (event.project_id is not None and event.project_id in self.project_ids)
            or (event.site_id is not None and event.site_id in self.site_ids)
        )

    def receives(self, event: Event) -> bool:
        """The per-subscriber answer (the hub uses the per-class one, :func:`decide`)."""
        return self.wants(event) and admits(decide(event, self.audience), self.user_id)


def must_reset(last_event_id: int, head: int, oldest_missed: datetime | None) -> bool:
    """Whether a client that saw ``last_event_id`` must refetch instead of being replayed
    to ``head``: the id is unknown (ahead of the organization's trail), or what it missed
    is more than ``REALTIME_REPLAY_MAX`` events or older than the replay window."""
    if last_event_id > head or last_event_id < 0:
        return True
    if head - last_event_id > settings.REALTIME_REPLAY_MAX:
        return True
    window = timedelta(seconds=settings.REALTIME_REPLAY_WINDOW_SECONDS)
    return oldest_missed is not None and oldest_missed < timezone.now() - window


def reset_frame(head: int, reason: str) -> bytes:
    return frame("reset", {"reason": reason, "sequence": head}, id=head)


def ready_frame(head: int) -> bytes:
    """Sent first when nothing is replayed: sets the client's cursor to the head."""
    return frame("ready", {"sequence": head}, id=head)


def visible_frames(sub: Subscription, events: Iterable[Event]) -> list[bytes]:
    return [event_frame(e) for e in events if sub.receives(e)]


def replay_after(sub: Subscription, head: int) -> int | None:
    """The sequence to read the missed events after, or ``None`` when there is nothing
    to read (a first connection, or a cursor at or past the head)."""
    last = sub.last_event_id
    return last if last is not None and 0 <= last < head else None


def resume_frames(sub: Subscription, head: int, events: Iterable[Event]) -> list[bytes]:
    """What a (re)connecting client gets before anything live: the missed events it may
    read (``events`` read after :func:`replay_after`, at most ``REALTIME_REPLAY_MAX + 1``)
    then ``ready``; or one ``reset``. The live hub and the WSGI answer both send this."""
    if sub.last_event_id is None:
        return [ready_frame(head)]
    missed = [e for e in events if e.sequence <= head]
    if must_reset(sub.last_event_id, head, missed[0].created_at if missed else None):
        return [reset_frame(head, "replay_unavailable")]
    return [*visible_frames(sub, missed), ready_frame(head)]
