"""A live ASGI server in a thread (uvicorn, the real application) and an SSE client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from django.db import connections
from httpx_sse import ServerSentEvent, connect_sse

from realtime.asgi import Application


@dataclass
class Live:
    url: str
    app: Application
    server: uvicorn.Server


@contextmanager
def live_server(port: int = 0) -> Iterator[Live]:
    """The ASGI application on 127.0.0.1, stopped (streams closed) on exit."""
    app = Application()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    # Connections opened by the server's threads close at the end of each request, so
    # none outlives the test (its database is flushed afterwards).
    saved = connections["default"].settings_dict["CONN_MAX_AGE"]
    connections["default"].settings_dict["CONN_MAX_AGE"] = 0
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.02)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield Live(f"http://127.0.0.1:{bound}", app, server)
    finally:
        server.should_exit = True
        thread.join(15)
        connections["default"].settings_dict["CONN_MAX_AGE"] = saved


class Feed:
    """One open stream: read events one by one with a deadline."""

    def __init__(self, client: httpx.Client, source: Any) -> None:
        self.client, self.source = client, source
        self.response = source.response
        self._events = source.iter_sse()

    def next(self) -> ServerSentEvent:
        """The next event (the ``retry:`` hint alone is no event, as in a browser)."""
        while True:
            sse = next(self._events)
            if sse.data or sse.event != "message":
                return sse

    def until(self, event: str, *, limit: int = 200) -> list[ServerSentEvent]:
        """Every event up to and including the first named ``event``."""
        seen = []
        for _ in range(limit):
            sse = self.next()
            seen.append(sse)
            if sse.event == event:
                return seen
        raise AssertionError(f"no {event!r} in {[s.event for s in seen]}")


@contextmanager
def open_feed(
    base: str, path: str, *, token: str | None = None, timeout: float = 10, **headers: str
) -> Iterator[Feed]:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with (
        httpx.Client(base_url=base, timeout=httpx.Timeout(timeout)) as client,
        connect_sse(client, "GET", path, headers=headers) as source,
    ):
        yield Feed(client, source)
