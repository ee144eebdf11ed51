"""A fake HTTP API on 127.0.0.1 for the deployment-provider and sync tests: every
request is recorded; ``respond(received) -> (status, json body)`` answers it.
(GET, POST and PUT — the shared receiver in ``support.py`` has no PUT.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integrations.support import Received

Respond = Callable[[Received], tuple[int, Any]]


@dataclass
class FakeAPI:
    respond: Respond
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self, method: str) -> list[str]:
        return [r.path for r in self.requests if r.method == method]


@contextmanager
def fake_api(respond: Respond) -> Iterator[FakeAPI]:
    box = FakeAPI(respond=respond)

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
            try:
                code, body = box.respond(got)
            except Exception as exc:  # a broken fake answers 599, visibly
                code, body = 599, {"fake_error": repr(exc)}
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = _handle

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
