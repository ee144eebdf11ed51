"""A small closed-loop HTTP load generator for 127.0.0.1.

Why not ``wrk``: it is not installed on the target machines, installing it
needs root and a system package manager, and every W1-W4 request must carry
a different tenant (org slug + that org's token) and be classified by status
(W4 counts every non-404 as a leak) - easy here, Lua scripting in ``wrk``.

How: ``concurrency`` client *processes* (not threads: no shared GIL with each
other), each sending pre-built request bytes one after another (closed loop,
no think time) for a fixed duration. A run may carry several *streams* (one
per server): each client then sends request ``i`` to stream ``i mod n``, so
the servers compared are measured in the same milliseconds and share the
machine's background noise alike - the way ratios stay meaningful on a busy
2-core box.
Gunicorn's sync workers answer ``Connection: close`` (they expect a proxy in
front), so every request opens its own loopback connection; the latency of a
request is connect + send + the whole response, as a client sees it. The
generator's own cost per request (~40-80 us of CPU) is the same for every
server measured in a run; ``W0`` (a constant response from the floor app)
shows the server + generator floor.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

HOST = "127.0.0.1"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    body: bytes = b""
    token: str = ""

    def encode(self, port: int) -> bytes:
        lines = [
            f"{self.method} {self.path} HTTP/1.1",
            f"Host: {HOST}:{port}",
            "User-Agent: bench-loadgen",
            "Accept: application/json",
            "Connection: close",
        ]
        if self.token:
            lines.append(f"Authorization: Bearer {self.token}")
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class LoadResult:
    """What one run measured: latencies in seconds, statuses, wall time."""

    concurrency: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    def summary(self) -> dict[str, float | int]:
        return {
            "concurrency": self.concurrency,
            "requests": self.count,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50), 3),
            "p95_ms": round(self.percentile(95), 3),
            "p99_ms": round(self.percentile(99), 3),
            "errors": self.errors,
        }


def _status_of(response: bytes) -> int:
    # b"HTTP/1.1 200 OK\r\n..."
    try:
        return int(response[9:12])
    except ValueError:
        return 0


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def _exchange(payload: bytes, port: int) -> bytes:
    """Send one request on a new connection; return the whole response."""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(payload)
        buf = bytearray()
        expected: int | None = None  # -1: no Content-Length, read until the server closes
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            if expected is None and (head_end := buf.find(b"\r\n\r\n")) >= 0:
                match = _CONTENT_LENGTH.search(buf, 0, head_end + 2)
                expected = head_end + 4 + int(match.group(1)) if match else -1
            if expected is not None and 0 <= expected <= len(buf):
                break
    return bytes(buf)


def _one(payload: bytes, port: int) -> tuple[int, int]:
    response = _exchange(payload, port)
    return _status_of(response), len(response)


def fetch(request: HttpRequest, port: int) -> tuple[int, bytes]:
    """One request; ``(status, body)``."""
    response = _exchange(request.encode(port), port)
    return _status_of(response), response.partition(b"\r\n\r\n")[2]


@dataclass(frozen=True)
class Stream:
    """Requests for one server: ``port`` and the encoded payloads, cycled."""

    port: int
    payloads: list[bytes]

    @classmethod
    def of(cls, requests: list[HttpRequest], port: int) -> Stream:
        return cls(port, [r.encode(port) for r in requests])


def _client(
    streams: list[Stream],
    index: int,
    concurrency: int,
    deadline_s: float,
    start_at: float,
    out: Connection,
) -> None:
    """One client: request ``i`` goes to stream ``i % len(streams)``, so with several
    streams every server is hit in turn and shares whatever else the machine is doing.

    Each stream starts at its own point of its request list (the servers of a workload
    share one shuffled list), so back-to-back requests to different servers never ask
    for the same tenant: otherwise the first server of each turn would read a random
    tenant's pages into PostgreSQL's buffers and the next ones would find them there
    (measured: baseline (b)'s W1 p50 rose by 0.1-0.2 ms when it stopped following the
    platform on the same tenant, and the RLS cost fell from 4-8% to 2-5%)."""
    latencies: list[list[float]] = [[] for _ in streams]
    statuses: list[Counter[int]] = [Counter() for _ in streams]
    errors = [0] * len(streams)
    offsets = [
        (len(s.payloads) * index) // concurrency + (len(s.payloads) * k) // len(streams)
        for k, s in enumerate(streams)
    ]
    while time.time() < start_at:
        time.sleep(0.0005)
    begin = time.perf_counter()
    stop = begin + deadline_s
    i = 0
    while True:
        k = i % len(streams)
        stream = streams[k]
        payload = stream.payloads[(offsets[k] + i // len(streams)) % len(stream.payloads)]
        t0 = time.perf_counter()
        if t0 >= stop:
            break
        try:
            status, _ = _one(payload, stream.port)
        except OSError:
            status = 0
            errors[k] += 1
        latencies[k].append(time.perf_counter() - t0)
        statuses[k][status] += 1
        i += 1
    out.send((latencies, [dict(c) for c in statuses], errors, begin, time.perf_counter()))
    out.close()


def run_streams(streams: list[Stream], *, concurrency: int, seconds: float) -> list[LoadResult]:
    """Run ``concurrency`` client processes for ``seconds`` over ``streams`` (bounded: it stops
    by itself); one result per stream. With one stream, ``seconds`` is that server's own run
    (throughput); with several, the streams alternate request by request (latency ratios)."""
    ctx = mp.get_context("fork")
    start_at = time.time() + 0.2
    pipes, procs = [], []
    for c in range(concurrency):
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_client,
            args=(streams, c, concurrency, seconds, start_at, sender),
            daemon=True,
        )
        proc.start()
        sender.close()
        pipes.append(receiver)
        procs.append(proc)
    results = [LoadResult(concurrency=concurrency) for _ in streams]
    begins, ends = [], []
    for receiver, proc in zip(pipes, procs, strict=True):
        latencies, statuses, errors, begin, end = receiver.recv()
        proc.join(timeout=seconds + 60)
        for k, result in enumerate(results):
            result.latencies.extend(latencies[k])
            result.statuses.update(statuses[k])
            result.errors += errors[k]
        begins.append(begin)
        ends.append(end)
    # perf_counter is CLOCK_MONOTONIC on Linux: comparable across the forked clients.
    for result in results:
        result.seconds = max(ends) - min(begins)
    return results


def run(requests: list[HttpRequest], *, port: int, concurrency: int, seconds: float) -> LoadResult:
    """One server, ``concurrency`` clients, for ``seconds``."""
    return run_streams([Stream.of(requests, port)], concurrency=concurrency, seconds=seconds)[0]


def wait_until_up(port: int, timeout: float = 60.0, path: str = "/") -> None:
    """Return once something answers HTTP on ``port``; raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    probe = HttpRequest("GET", path).encode(port)
    while time.monotonic() < deadline:
        try:
            status, _ = _one(probe, port)
            if status:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"nothing answered on {HOST}:{port} within {timeout:.0f}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
