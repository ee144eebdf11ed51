"""A fake Stripe HTTP server on 127.0.0.1 for the tests.

The real ``stripe`` SDK talks to it (``STRIPE_API_BASE``); it records every
request (method, path, headers, decoded form body) and answers the few
endpoints we use with canned objects the test can change.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeStripe:
    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def posted(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Recorded:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            recorded = Recorded(
                method=self.command,
                path=url.path,
                query=dict(parse_qsl(url.query)),
                headers={k.lower(): v for k, v in self.headers.items()},
                form=dict(parse_qsl(body)),
            )
            fake.requests.append(recorded)
            return recorded

        def do_GET(self) -> None:
            r = self._record()
            if fake.fail_with:
                return self._answer(fake.fail_with, {"error": {"message": "down"}})
            if r.path == "/v1/subscriptions":
                rows = [s for s in fake.subscriptions if s["customer"] == r.query.get("customer")]
                return self._answer(200, _list("/v1/subscriptions", rows))
            if r.path == "/v1/invoices":
                rows = [i for i in fake.invoices if i["customer"] == r.query.get("customer")]
                return self._answer(200, _list("/v1/invoices", rows))
            self._answer(404, {"error": {"type": "invalid_request_error", "message": "no"}})

        def do_POST(self) -> None:
            r = self._record()
            if fake.fail_with:
                return self._answer(fake.fail_with, {"error": {"message": "down"}})
            n = len(fake.requests)
            if r.path == "/v1/checkout/sessions":
                return self._answer(
                    200,
                    {
                        "id": f"cs_test_{n}",
                        "object": "checkout.session",
                        "url": f"https://checkout.stripe.test/c/pay/cs_test_{n}",
                        "mode": r.form.get("mode"),
                        "client_reference_id": r.form.get("client_reference_id"),
                    },
                )
            if r.path == "/v1/billing_portal/sessions":
                return self._answer(
                    200,
                    {
                        "id": f"bps_{n}",
                        "object": "billing_portal.session",
                        "url": f"https://billing.stripe.test/p/session/bps_{n}",
                        "customer": r.form.get("customer"),
                    },
                )
            if r.path == "/v1/billing/meter_events":
                return self._answer(
                    200,
                    {
                        "object": "billing.meter_event",
                        "event_name": r.form.get("event_name"),
                        "identifier": r.form.get("identifier"),
                    },
                )
            self._answer(404, {"error": {"type": "invalid_request_error", "message": "no"}})

    return Handler


def _list(url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": False, "data": rows}


def start() -> FakeStripe:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake = FakeStripe(server=server)
    server.RequestHandlerClass = _handler(fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake
