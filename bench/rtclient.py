"""A lean asyncio SSE client holding many streams in one process (``bench/realtime.py``).

Why not ``httpx-sse``: at 100 events/s on 10 organizations of 100 streams each, the
client parses 10,000 frames a second next to the server on the same two cores; httpx
and h11 cost several times more per frame than reading the socket here. Each stream is
one raw asyncio connection (uvloop when installed): the request is written by hand,
the answer's chunked transfer coding (what uvicorn and granian send for a response
without a length) and the ``text/event-stream`` frames are decoded in place, and
every event is recorded with the wall-clock time of the read that completed it (the
writer records the wall-clock time of each commit: same host, same clock).

The client runs in a process of its own (:class:`Client` forks it) and is driven over
a pipe: ``connect`` opens streams and waits for each one's ``ready`` (or its error),
``collect`` hands back what was received, ``close`` disconnects every stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Spec:
    """One stream to open: ``index`` names it in the results."""

    index: int
    path: str
    token: str


@dataclass
class _Stream:
    spec: Spec
    events: list[tuple[int, int, str, float, str]]
    ready: asyncio.Future[int]
    writer: asyncio.StreamWriter | None = None
    status: int = 0
    head: int | None = None
    closed: str | None = None
    heartbeats: int = 0
    raw: bytearray = field(default_factory=bytearray)
    body: bytearray = field(default_factory=bytearray)
    chunked: bool = False

    def request(self, port: int) -> bytes:
        return (
            f"GET {self.spec.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "User-Agent: bench-realtime\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {self.spec.token}\r\n\r\n"
        ).encode()

    def feed(self, data: bytes, now: float) -> None:
        if not self.chunked:
            self.body += data
        else:
            raw = self.raw
            raw += data
            pos = 0
            while True:
                eol = raw.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(raw[pos:eol].split(b";", 1)[0], 16)
                end = eol + 2 + size
                if len(raw) < end + 2:
                    break
                self.body += raw[eol + 2 : end]
                pos = end + 2
                if size == 0:
                    self.closed = self.closed or "eof"
                    break
            del raw[:pos]
        body = self.body
        start = 0
        while (j := body.find(b"\n\n", start)) >= 0:
            self._frame(bytes(body[start:j]), now)
            start = j + 2
        if start:
            del body[:start]

    def _frame(self, frame: bytes, now: float) -> None:
        seq, name, data = -1, "message", b""
        for line in frame.split(b"\n"):
            if line.startswith(b"data: "):
                data = line[6:]
            elif line.startswith(b"id: "):
                seq = int(line[4:])
            elif line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b":"):
                self.heartbeats += 1
                return
            elif line.startswith(b"retry:"):
                return
        if name == "ready":
            self.head = seq
            if not self.ready.done():
                self.ready.set_result(seq)
        elif name == "close":
            self.closed = orjson.loads(data).get("reason", "close") if data else "close"
        else:
            target = orjson.loads(data).get("id", "") if data else ""
            self.events.append((self.spec.index, seq, name, now, str(target)))


class _Session:
    """The client process's state: every open stream and what it received."""

    def __init__(self) -> None:
        self.streams: dict[int, _Stream] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.events: list[tuple[int, int, str, float, str]] = []
        self.errors: dict[str, int] = {}

    async def _run(self, stream: _Stream, port: int) -> None:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            stream.writer = writer
            writer.write(stream.request(port))
            head = await reader.readuntil(b"\r\n\r\n")
            stream.status = int(head[9:12])
            stream.chunked = b"transfer-encoding: chunked" in head.lower()
            if stream.status != 200:
                stream.closed = f"http {stream.status}"
                stream.ready.set_result(-1)
                return
            while data := await reader.read(65536):
                stream.feed(data, time.time())
            stream.closed = stream.closed or "eof"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # counted and reported
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1
            stream.closed = stream.closed or name
        finally:
            if not stream.ready.done():
                stream.ready.set_result(-1)
            if stream.writer is not None:
                stream.writer.close()

    async def connect(
        self, port: int, specs: list[Spec], parallel: int, timeout: float
    ) -> dict[str, Any]:
        started = time.perf_counter()
        gate = asyncio.Semaphore(parallel)
        loop = asyncio.get_running_loop()

        async def one(spec: Spec) -> None:
            async with gate:
                stream = _Stream(spec, self.events, loop.create_future())
                self.streams[spec.index] = stream
                task = asyncio.create_task(self._run(stream, port))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                try:
                    await asyncio.wait_for(asyncio.shield(stream.ready), timeout)
                except TimeoutError:
                    self.errors["no ready"] = self.errors.get("no ready", 0) + 1

        await asyncio.gather(*(one(s) for s in specs))
        opened = [s for s in (self.streams[x.index] for x in specs) if s.head is not None]
        statuses: dict[str, int] = {}
        for spec in specs:
            key = str(self.streams[spec.index].status)
            statuses[key] = statuses.get(key, 0) + 1
        return {
            "opened": len(opened),
            "asked": len(specs),
            "statuses": statuses,
            "errors": dict(self.errors),
            "seconds": time.perf_counter() - started,
            "heads": {s.spec.index: s.head for s in opened},
        }

    def collect(self, reset: bool) -> dict[str, Any]:
        out = {
            "events": list(self.events),
            "closed": {i: s.closed for i, s in self.streams.items() if s.closed},
            "heartbeats": sum(s.heartbeats for s in self.streams.values()),
            "open": sum(1 for s in self.streams.values() if s.closed is None),
        }
        if reset:
            self.events.clear()
        return out

    async def close(self) -> dict[str, Any]:
        count = len(self.tasks)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.streams.clear()
        self.events.clear()
        self.errors.clear()
        return {"closed": count}


def _serve(conn: Connection) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio: slower, still correct
        pass

    async def main() -> None:
        session = _Session()
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        def receive() -> None:  # blocking reads in a thread: the pipe's fd stays blocking
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    message = ("quit",)
                loop.call_soon_threadsafe(inbox.put_nowait, message)
                if message[0] == "quit":
                    return

        threading.Thread(target=receive, daemon=True).start()
        while True:
            command, *args = await inbox.get()
            if command == "connect":
                conn.send(await session.connect(*args))
            elif command == "collect":
                conn.send(session.collect(*args))
            elif command == "close":
                conn.send(await session.close())
            elif command == "quit":
                await session.close()
                with contextlib.suppress(OSError):
                    conn.send({"bye": True})
                return

    asyncio.run(main())


class Client:
    """The client process, driven from the orchestrator (one command at a time)."""

    def __init__(self) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def _ask(self, *message: Any) -> Any:
        self._conn.send(message)
        return self._conn.recv()

    def connect(
        self, port: int, specs: list[Spec], parallel: int = 32, timeout: float = 30
    ) -> dict[str, Any]:
        """Open every stream (``parallel`` handshakes at a time) and wait for its ``ready``
        (at most ``timeout`` seconds each)."""
        return self._ask("connect", port, specs, parallel, timeout)

    def collect(self, *, reset: bool = True) -> dict[str, Any]:
        """Events received since the last reset: ``(index, id, event, time, target id)``."""
        return self._ask("collect", reset)

    def close(self) -> dict[str, Any]:
        return self._ask("close")

    def quit(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(EOFError, OSError):
                self._ask("quit")
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
