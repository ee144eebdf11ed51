"""The ASGI application: the live feed, and Django for everything else.

``GET /api/v1/orgs/{slug}/events/`` is a long-lived response; everything else is the
ordinary request/response API. The feed is served here, natively async (a subscriber
costs a queue and a coroutine, not a thread or a database connection); every other
request goes to Django's WSGI application in a thread pool (``a2wsgi``), so the JSON
API runs the same synchronous code path, with the same speed, as under a WSGI server
(measured in ``bench/realtime.py``; ADR 0016).

A stream starts with the handshake (``realtime/handshake.py``): the request is first
answered by Django's events view, which authenticates and authorizes it like any other
route; an error goes back to the client as it is, a grant starts the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
from typing import Any

import orjson
from a2wsgi import WSGIMiddleware
from django.conf import settings

from config.api.exceptions import error_body
from realtime import feed, handshake
from realtime.hub import CLOSE, Hub, TooManyStreams

FEED_PATH = re.compile(r"^/api/v1/orgs/[-a-zA-Z0-9_]+/events/$")
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
    (b"x-content-type-options", b"nosniff"),
]


class Application:
    def __init__(self, django: Any = None) -> None:
        if django is None:
            from django.core.wsgi import get_wsgi_application

            wsgi = get_wsgi_application()
            if settings.DEBUG:
                # As runserver does: /static/ from the apps (the admin's CSS) while developing.
                from django.contrib.staticfiles.handlers import StaticFilesHandler

                wsgi = StaticFilesHandler(wsgi)
            django = WSGIMiddleware(wsgi, workers=settings.REALTIME_WSGI_THREADS)
            # Django, its apps and URLconf are loaded for good: keep the collector from
            # walking them again and again (full collections stalled the loop for 0.2-0.4 s
            # under 1,000 streams; bench/results/realtime-2026-12-07.md).
            gc.freeze()
        self.django = django
        self.hub = Hub()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif (
            scope["type"] == "http" and scope["method"] == "GET" and FEED_PATH.match(scope["path"])
        ):
            await self.stream(scope, receive, send)
        else:
            await self.django(scope, receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.hub.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- one stream -----------------------------------------------------------------------

    async def stream(self, scope: dict, receive: Any, send: Any) -> None:
        sub = await self.handshake(scope, send)
        if sub is None:
            return
        try:
            stream, head = await self.hub.add(sub)
        except TooManyStreams as exc:
            await _error(
                send,
                429,
                "too_many_streams",
                f"Too many open event streams for this {exc.args[0]}; close one first.",
                sub.request_id,
            )
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*HEADERS, (b"x-request-id", sub.request_id.encode())],
                }
            )
            await send(
                {"type": "http.response.body", "body": feed.retry_frame(), "more_body": True}
            )
            writer = asyncio.create_task(self._write(stream, head, send))
            watcher = asyncio.create_task(_disconnected(receive))
            done, pending = await asyncio.wait(
                {writer, watcher}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if writer in done and writer.exception() is None:
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.hub.remove(stream)

    async def handshake(self, scope: dict, send: Any) -> feed.Subscription | None:
        """Django answers first; a grant becomes a subscription, anything else goes back."""
        headers = [(k, v) for k, v in scope["headers"] if k != handshake.MARKER_HEADER]
        headers.append((handshake.MARKER_HEADER, handshake.MARKER.encode()))
        messages: list[dict] = []

        async def capture(message: dict) -> None:
            messages.append(message)

        async def no_body() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        await self.django({**scope, "headers": headers}, no_body, capture)
        start = messages[0]
        grant = None
        if start["status"] == 200:
            grant = next(
                (
                    v
                    for k, v in start["headers"]
                    if k.lower() == handshake.GRANT_HEADER.lower().encode()
                ),
                None,
            )
        if grant is None:
            for message in messages:
                await send(message)
            return None
        return handshake.decode(grant)

    async def _write(self, stream: Any, head: int, send: Any) -> None:
        sub = stream.sub

        async def out(body: bytes) -> None:
            await send({"type": "http.response.body", "body": body, "more_body": True})

        await out(await self._resume(sub, head))
        while True:
            # Everything queued goes out in one write (heartbeats come from the hub's one
            # timer, not a timer per stream).
            batch = [await stream.queue.get()]
            while not stream.queue.empty():
                batch.append(stream.queue.get_nowait())
            if CLOSE in batch:
                await out(feed.frame("close", {"reason": stream.close_reason}))
                return
            await out(b"".join(batch))

    async def _resume(self, sub: feed.Subscription, head: int) -> bytes:
        """What the client missed up to ``head`` (or ``ready``/``reset``), as one write."""
        after = feed.replay_after(sub, head)
        events = []
        if after is not None:
            events = await self.hub.events(
                sub.organization_id, [sub.user_id], after, settings.REALTIME_REPLAY_MAX + 1
            )
        return b"".join(feed.resume_frames(sub, head, events))


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _error(send: Any, status: int, code: str, message: str, request_id: str) -> None:
    body = error_body(code, message)
    body["error"]["request_id"] = request_id  # the handshake's, not this coroutine's
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})
