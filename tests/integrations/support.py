"""Fakes on 127.0.0.1 for the integrations tests: a webhook receiver, stubbed DNS,
and a guard that records every socket connection attempted."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations import outbound


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP server answering ``respond(received) -> (status, body, headers)``."""

    respond: Callable[[Received], tuple[int, bytes, dict[str, str]]]
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextmanager
def receiver(
    respond: Callable[[Received], tuple[int, bytes, dict[str, str]]] | int = 200,
) -> Iterator[Receiver]:
    if isinstance(respond, int):
        status = respond

        def respond(_received: Received) -> tuple[int, bytes, dict[str, str]]:
            return status, b'{"ok": true}', {}

    box = Receiver(respond=respond)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            got = Received(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            box.requests.append(got)
            code, body, headers = box.respond(got)
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


def stub_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    """Names resolve to ``answers``; anything else fails to resolve."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"unknown host {host!r}")
        return answers[host]

    monkeypatch.setattr(outbound, "resolver", resolve)


@pytest.fixture
def connections_made(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket tried to connect to during the test. Only 127.0.0.1 is
    really connected to: anything else is recorded and refused here, so even broken
    code under test sends no packet anywhere else."""
    made: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def _loopback(address: Any) -> bool:
        return isinstance(address, tuple) and address[0] == "127.0.0.1"

    def connect(self: socket.socket, address: Any) -> Any:
        made.append(address)
        if not _loopback(address):
            raise ConnectionRefusedError(f"test guard: no connection to {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        made.append(address)
        if not _loopback(address):
            raise ConnectionRefusedError(f"test guard: no connection to {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return made
