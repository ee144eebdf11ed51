"""Request ids: accepted from ``X-Request-ID`` when sane, generated otherwise,
echoed back on the response and stamped on every log line of the request."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from config.api.client_ip import client_ip

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_client: ContextVar[tuple[str | None, str]] = ContextVar("client", default=(None, ""))
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str:
    return _request_id.get()


def current_client() -> tuple[str | None, str]:
    """(ip address, user agent) of the request being served, for the audit trail."""
    return _client.get()


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        client_token = _client.set(
            (client_ip(request), request.headers.get("User-Agent", "")[:300])
        )
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
            _client.reset(client_token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True
