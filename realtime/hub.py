"""One process's feed: one LISTEN connection, its subscribers, the fan-out.

* Committed audit events are announced with ``NOTIFY app_events, '<org>:<sequence>'``
  by a trigger on the audit trail (``realtime/migrations/0001``); account events that
  may end streams (a session revoked, a password changed) with ``'-'``.
* The hub LISTENs on one connection of its own and reads on another (both outside any
  request, through the narrow definers of ``realtime/migrations/0001``). For an
  organization with subscribers here it reads the events after the last one it read —
  so a lost notification only delays events until the next one, never loses them — and
  renders each event once.
* Visibility is decided once per event and audience class (``realtime.visibility``);
  each subscriber's queue is bounded: a consumer that falls behind is cut off with a
  final ``close`` event (it resumes with ``Last-Event-ID``) instead of buffering.
* Every ``REALTIME_RECHECK_SECONDS``, and at once after an event that changes access,
  one statement checks every open stream: sessions and keys still valid, still a
  member (with which role now), the organization not suspended, topic projects still
  visible. Streams that fail end with a ``close`` event naming why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson
import psycopg
from django.conf import settings
from django.db import connections

from realtime import feed
from realtime.catalog import ACCESS_ACTIONS
from realtime.visibility import Audience, Decision, Event, admits, decide

logger = logging.getLogger(__name__)

CHANNEL = "app_events"
CLOSE = object()
BATCH_MAX = 500  # events per organization and read
BATCH_EVENTS_SQL = (
    "SELECT q.org, r.sequence, r.action, r.actor_type, r.actor_id, r.target_type,"
    " r.target_id, r.changes, r.created_at, r.project_id, r.project_private,"
    " r.project_members, r.site_id"
    " FROM unnest(%s::uuid[], %s::bigint[]) AS q(org, after)"
    " CROSS JOIN LATERAL app.realtime_events(q.org, %s::uuid[], q.after, %s) r"
    " ORDER BY q.org, r.sequence"
)


class TooManyStreams(Exception):
    pass


@dataclass(eq=False)
class Stream:
    sub: feed.Subscription
    queue: asyncio.Queue = field(
        default_factory=lambda: asyncio.Queue(settings.REALTIME_QUEUE_SIZE)
    )
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    audience: Audience | None = None
    cursor: int = 0  # the last sequence delivered (or skipped): never send it twice
    close_reason: str | None = None

    def __post_init__(self) -> None:
        self.audience = self.sub.audience

    def put(self, item: object) -> None:
        if self.close_reason is not None:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close("too_slow")

    def close(self, reason: str) -> None:
        """End the stream: drop what is queued, send ``close``."""
        if self.close_reason is not None:
            return
        self.close_reason = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(CLOSE)


def conninfo() -> str:
    """The LISTEN/read connection: REALTIME_DATABASE_URL, else the app role's own
    (LISTEN needs a session: behind PgBouncer in transaction mode, point this at
    PostgreSQL directly)."""
    if settings.REALTIME_DATABASE_URL:
        return settings.REALTIME_DATABASE_URL
    db = connections["default"].settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=str(db["PORT"]) if db["PORT"] else None,
        application_name="saas-realtime",
        connect_timeout=str(settings.DB_CONNECT_TIMEOUT),
    )


class Hub:
    def __init__(self) -> None:
        self.streams: dict[uuid.UUID, set[Stream]] = defaultdict(set)
        self.per_user: dict[str, int] = defaultdict(int)
        self.read_upto: dict[uuid.UUID, int] = {}  # per org: the last sequence read
        # Organizations with something new to read, drained by the dispatcher in one read.
        self._dirty: set[uuid.UUID] = set()
        self._wake = asyncio.Event()
        self._members: dict[uuid.UUID, Counter[uuid.UUID]] = defaultdict(Counter)
        self._recheck = asyncio.Event()
        self._reader: psycopg.AsyncConnection | None = None
        self._read_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._started = False
        self.listening = asyncio.Event()
        self.delivered = 0

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._tasks = [
            asyncio.create_task(self._listen(), name="realtime-listen"),
            asyncio.create_task(self._dispatch(), name="realtime-dispatch"),
            asyncio.create_task(self._recheck_loop(), name="realtime-recheck"),
            asyncio.create_task(self._heartbeat_loop(), name="realtime-heartbeat"),
        ]
        await asyncio.wait_for(self.listening.wait(), timeout=settings.DB_CONNECT_TIMEOUT + 5)

    async def stop(self) -> None:
        for streams in list(self.streams.values()):
            for stream in list(streams):
                stream.close("server_shutdown")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._reader is not None:
            await self._reader.close()
        self._started = False

    # --- subscribers --------------------------------------------------------------------

    async def add(self, sub: feed.Subscription) -> tuple[Stream, int]:
        """Register a stream; answer it and the organization's head at registration:
        events after the head reach the stream's queue, those up to it are replayed."""
        org = sub.organization_id
        if self.per_user[sub.limit_key] >= settings.REALTIME_MAX_STREAMS_PER_USER:
            raise TooManyStreams("user")
        if len(self.streams[org]) >= settings.REALTIME_MAX_STREAMS_PER_ORG:
            raise TooManyStreams("organization")
        await self.start()
        if org not in self.read_upto:
            head = await self.head(org, [sub.user_id])
            self.read_upto.setdefault(org, head)
            self.mark(org)  # anything committed while the head was read
        stream = Stream(sub)
        stream.cursor = self.read_upto[org]
        self.streams[org].add(stream)
        self._members[org][sub.user_id] += 1
        self.per_user[sub.limit_key] += 1
        return stream, stream.cursor

    def remove(self, stream: Stream) -> None:
        org = stream.sub.organization_id
        self.streams[org].discard(stream)
        self._members[org][stream.sub.user_id] -= 1
        if self._members[org][stream.sub.user_id] <= 0:
            del self._members[org][stream.sub.user_id]
        self.per_user[stream.sub.limit_key] -= 1
        if not self.per_user[stream.sub.limit_key]:
            del self.per_user[stream.sub.limit_key]
        if not self.streams[org]:
            del self.streams[org]
            self._members.pop(org, None)
            self.read_upto.pop(org, None)

    def count(self) -> int:
        return sum(len(s) for s in self.streams.values())

    # --- reads ------------------------------------------------------------------------

    async def _conn(self) -> psycopg.AsyncConnection:
        if self._reader is None or self._reader.closed:
            self._reader = await psycopg.AsyncConnection.connect(conninfo(), autocommit=True)
        return self._reader

    async def _query(self, sql: str, params: list) -> list[tuple]:
        async with self._read_lock:
            for attempt in (1, 2):
                try:
                    conn = await self._conn()
                    cur = await conn.execute(sql, params)
                    return await cur.fetchall()
                except psycopg.OperationalError:
                    if attempt == 2:
                        raise
                    self._reader = None  # a restarted database: reconnect once
        return []

    async def head(self, org: uuid.UUID, members: list[uuid.UUID]) -> int:
        rows = await self._query(feed.HEAD_SQL, [org, members])
        return rows[0][0]

    async def events(
        self, org: uuid.UUID, members: list[uuid.UUID], after: int, limit: int
    ) -> list[Event]:
        rows = await self._query(feed.EVENTS_SQL, [org, members, after, limit])
        return [feed.event_from_row(row) for row in rows]

    def members(self, org: uuid.UUID) -> list[uuid.UUID]:
        """Some users this process serves in ``org``: the read definer answers only for an
        organization one of them belongs to."""
        return list(self._members.get(org, ()))[:20]

    def mark(self, org: uuid.UUID) -> None:
        """``org`` has something new: the dispatcher reads it (with every other marked
        organization, in one statement)."""
        self._dirty.add(org)
        self._wake.set()

    # --- fan-out ------------------------------------------------------------------------

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo(), autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    delay = 0.2
                    for org in list(self.streams):  # what a reconnect may have missed
                        self.mark(org)
                    self._recheck.set()
                    async for note in conn.notifies():
                        self._on_notify(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database restarted, the network blinked: listen again
                logger.warning("realtime listener lost its connection; reconnecting", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    def _on_notify(self, payload: str) -> None:
        org_text, _, seq_text = payload.partition(":")
        if org_text == "-":
            self._recheck.set()
            return
        try:
            org, seq = uuid.UUID(org_text), int(seq_text)
        except ValueError:
            return
        if org in self.read_upto and seq > self.read_upto[org]:
            self.mark(org)

    async def _dispatch(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            orgs, self._dirty = self._dirty, set()
            try:
                await self.catch_up(orgs)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("realtime fan-out failed")
                await asyncio.sleep(0.5)  # a database restart: the listener reconnects
                for org in orgs:
                    self.mark(org)

    async def catch_up(self, orgs: set[uuid.UUID]) -> None:
        """Read every event of ``orgs`` after the last one read — one statement for all
        of them — and deliver them."""
        after = {org: self.read_upto[org] for org in orgs if org in self.read_upto}
        if not after:
            return
        members = list({user for org in after for user in self.members(org)})
        rows = await self._query(
            BATCH_EVENTS_SQL, [list(after), list(after.values()), members, BATCH_MAX]
        )
        by_org: dict[uuid.UUID, list[Event]] = defaultdict(list)
        for row in rows:
            by_org[row[0]].append(feed.event_from_row(row[1:]))
        for org, events in by_org.items():
            if self.read_upto.get(org) != after[org]:
                continue  # the org's last stream left meanwhile
            self.read_upto[org] = events[-1].sequence
            self.fan_out(org, events)
            if len(events) >= BATCH_MAX:
                self.mark(org)  # more to read

    def fan_out(self, org: uuid.UUID, events: list[Event]) -> None:
        streams = list(self.streams.get(org, ()))
        access_changed = False
        for event in events:
            access_changed |= event.action in ACCESS_ACTIONS
            frame: bytes | None = None
            decisions: dict[Audience, Decision] = {}
            for stream in streams:
                if event.sequence <= stream.cursor or stream.close_reason:
                    continue
                stream.cursor = event.sequence
                if not stream.sub.wants(event):
                    continue
                decision = decisions.get(stream.audience)
                if decision is None:
                    decision = decisions[stream.audience] = decide(event, stream.audience)
                if admits(decision, stream.sub.user_id):
                    if frame is None:
                        frame = feed.event_frame(event)
                    stream.put(frame)
                    self.delivered += 1
        if access_changed:
            self._recheck.set()

    async def _heartbeat_loop(self) -> None:
        """One timer for every stream: a keep-alive comment each REALTIME_HEARTBEAT_SECONDS
        (proxies close idle connections; a dead client is found by the write)."""
        while True:
            await asyncio.sleep(settings.REALTIME_HEARTBEAT_SECONDS)
            for streams in list(self.streams.values()):
                for stream in streams:
                    stream.put(feed.HEARTBEAT)

    # --- access -------------------------------------------------------------------------

    async def _recheck_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recheck.wait(), settings.REALTIME_RECHECK_SECONDS)
            self._recheck.clear()
            try:
                await self.recheck()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("realtime access check failed", exc_info=True)

    async def recheck(self) -> None:
        """One statement for every open stream of the process."""
        streams = [s for group in self.streams.values() for s in group if not s.close_reason]
        if not streams:
            return
        payload = orjson.dumps(
            [
                {
                    "stream": s.id,
                    "org": str(s.sub.organization_id),
                    "user_id": str(s.sub.user_id),
                    "session": str(s.sub.session_id) if s.sub.session_id else None,
                    "api_key": str(s.sub.api_key_id) if s.sub.api_key_id else None,
                    "projects": [str(p) for p in s.sub.project_ids],
                }
                for s in streams
            ]
        ).decode()
        rows = {row[0]: row[1:] for row in await self._query(feed.ACCESS_SQL, [payload])}
        for stream in streams:
            found = rows.get(stream.id)
            if found is None:
                stream.close("access_revoked")
                continue
            role, suspended, lost_projects = found
            if suspended:
                stream.close("organization_suspended")
            elif lost_projects:
                stream.close("project_access_lost")
            elif role != stream.audience.role:
                stream.audience = Audience(stream.audience.kind, role, stream.audience.scopes)
