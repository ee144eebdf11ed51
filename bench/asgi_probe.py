"""``config.asgi``'s application with two instruments, for ``bench/realtime.py``'s feed servers.

While switched on (``GET /__bench_probe__/start`` ... ``/__bench_probe__/stop``, which
answers the figures as JSON; nothing else changes, and off it costs one comparison per
request) it records the following; ``/__bench_probe__/stats`` answers the process's
object and task counts and the hub's (leaks show there after streams come and go).

* the event loop's lag: a task sleeps 10 ms in a loop and records how late it woke up
  (everything in the process - the hub, the streams, the thread pool's hand-offs - runs
  on that loop: a late wake-up is a stall every stream saw), and the loop thread's CPU
  time over it (a stall spent computing, or waiting for a CPU or the GIL);
* the garbage collector's pauses (``gc.callbacks``): generation and duration of each.

The probe answers only on 127.0.0.1 servers the bench starts; ``config.asgi`` never
imports it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import orjson

from config.asgi import application as feed_application

PREFIX = "/__bench_probe__/"
TICK = 0.01


class Probe:
    def __init__(self) -> None:
        self.lags: list[tuple[float, float, float]] = []
        self.pauses: list[tuple[float, int, float]] = []
        self.task: asyncio.Task[None] | None = None
        self.reads: list[tuple[float, float, int, int]] = []
        self.notifies: list[tuple[float, int]] = []
        self.profiler: Any = None
        self._gc_started = 0.0

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            took = time.perf_counter() - self._gc_started
            self.pauses.append((time.time(), info["generation"], took))

    async def _tick(self) -> None:
        while True:
            started, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(TICK)
            lag = time.perf_counter() - started - TICK
            # The loop thread's own CPU time over the tick: a stall spent computing on the
            # loop (close to the lag) or waiting for a CPU, the GIL or a blocking call (~0).
            self.lags.append((time.time(), lag, time.thread_time() - cpu))

    def _wrap_hub(self) -> None:
        """Time the hub's reads (``catch_up``: one statement for every organization
        notified since the last read) and count its notifications, by wrapping two of its
        methods on this instance (the code under test is not changed)."""
        hub = getattr(feed_application, "hub", None)
        if hub is None or "catch_up" in vars(hub):
            return
        catch_up, on_notify = hub.catch_up, hub._on_notify

        async def timed_catch_up(orgs: Any) -> Any:
            # One read for every organization notified since the last one; the events
            # it found are what the organizations' cursors moved by.
            waiting, before = len(hub._dirty), sum(hub.read_upto.values())
            started = time.perf_counter()
            await catch_up(orgs)
            if self.task is not None:
                found = sum(hub.read_upto.values()) - before
                self.reads.append((time.time(), time.perf_counter() - started, found, waiting))

        def counted_notify(payload: str) -> None:
            if self.task is not None:
                self.notifies.append((time.time(), len(hub._dirty)))
            on_notify(payload)

        hub.catch_up, hub._on_notify = timed_catch_up, counted_notify

    def start(self, *, profile: bool = False) -> None:
        self.stop()
        if profile:  # pyinstrument, sampling the loop's thread (the bench extra installs it)
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.001, async_mode="disabled")
            self.profiler.start()
        self.lags, self.pauses, self.reads, self.notifies = [], [], [], []
        self._wrap_hub()
        gc.callbacks.append(self._gc)
        self.task = asyncio.get_running_loop().create_task(self._tick())

    def stats(self) -> dict[str, Any]:
        """The process's bookkeeping: leaks show here after streams come and go."""
        hub = getattr(feed_application, "hub", None)
        return {
            "gc_objects": len(gc.get_objects()),
            "asyncio_tasks": len(asyncio.all_tasks()),
            "hub_streams": hub.count() if hub else None,
            "hub_users": len(hub.per_user) if hub else None,
            "hub_orgs": len(hub.streams) if hub else None,
        }

    def stop(self) -> dict[str, Any]:
        profile = None
        if self.profiler is not None:
            self.profiler.stop()
            profile = self.profiler.output_text(unicode=False, color=False, show_all=False)
            self.profiler = None
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        return {
            "profile": profile,
            "lags": self.lags,
            "gc": self.pauses,
            "reads": self.reads,
            "notifies": self.notifies,
        }


probe = Probe()


async def application(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"].startswith(PREFIX):
        action = scope["path"][len(PREFIX) :]
        if action == "stats":
            body = orjson.dumps(probe.stats())
        else:
            if action == "stop":
                body = orjson.dumps(probe.stop())
            else:
                probe.start(profile=action == "profile")
                body = b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await feed_application(scope, receive, send)
