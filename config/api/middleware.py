"""Request ids: accepted from ``X-Request-ID`` when sane, generated otherwise,
echoed back on the response, put in error bodies and on every log line of the
request (django-structlog's ``RequestMiddleware`` logs the request with this id,
not one of its own).

The same middleware holds the error contract at the edge: an error response
whose code is not registered in :mod:`config.errors` (or answered with another
status than the registered one) is logged as an error, and refused outright
when ``ERROR_CODES_STRICT`` is on (the test suite).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_structlog import signals as structlog_signals

from config.api.client_ip import client_ip
from config.api.exceptions import (
    database_unavailable_response,
    error_body,
    is_database_unavailable,
    unknown_api_route_message,
)
from config.api.request_context import (
    _client,
    _request_id,
    current_client,
    safe_request_id,
)
from config.errors import UnregisteredErrorCode, check_error_response

logger = structlog.get_logger(__name__)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = safe_request_id(request.headers.get("X-Request-ID")) or uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        client_token = _client.set(
            (client_ip(request), request.headers.get("User-Agent", "")[:300])
        )
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
            _check_error_contract(request, response)
        finally:
            _request_id.reset(token)
            _client.reset(client_token)
            structlog.contextvars.clear_contextvars()
        response["X-Request-ID"] = request_id
        return response


class ApiErrorEnvelopeMiddleware:
    """A 404 or 405 under ``/api/`` that did not come from the API's exception handler
    (an unknown route, which with ``DEBUG`` is Django's HTML page; a plain Django view
    refusing a method) answers the one JSON error shape too.

    Listed after ``sites.public.LiveSitesHostMiddleware``: on the live sites' own host
    ``/api/…`` is the live site's 404 page (with its headers), not the platform's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return _api_error_in_the_envelope(request, self.get_response(request))


def _api_error_in_the_envelope(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if (
        response.status_code not in (404, 405)
        or not request.path.startswith("/api/")
        or response.get("Content-Type", "").startswith("application/json")
    ):
        return response
    if response.status_code == 404:
        body = error_body("not_found", unknown_api_route_message(request.path))
    else:
        allowed = response.get("Allow", "")
        body = error_body(
            "method_not_allowed",
            f'Method "{request.method}" is not allowed here; allowed: {allowed}.',
        )
    replacement = JsonResponse(body, status=response.status_code)
    if "Allow" in response:
        replacement["Allow"] = response["Allow"]
    return replacement


def _check_error_contract(request: HttpRequest, response: HttpResponse) -> None:
    if response.status_code < 400 or response.streaming:
        return
    if not response.get("Content-Type", "").startswith("application/json"):
        return
    try:
        error = orjson.loads(response.content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return
    if not isinstance(error, dict) or "code" not in error:
        return
    problem = check_error_response(response.status_code, str(error["code"]))
    if problem is None:
        return
    logger.error(
        "error_code_unregistered",
        problem=problem,
        path=request.path,
        request_id=getattr(request, "request_id", None),
    )
    if settings.ERROR_CODES_STRICT:
        raise UnregisteredErrorCode(f"{request.method} {request.path}: {problem}")


def _bind_our_request_facts(request: HttpRequest, **kwargs: Any) -> None:
    # django-structlog binds a uuid of its own before logging request_started; one
    # request has one id, the one RequestIdMiddleware chose. Its address is the one the
    # audit trail and the throttles use (client_ip: X-Forwarded-For only from trusted
    # proxies), not ipware's (DJANGO_STRUCTLOG_IP_LOGGING_ENABLED is off).
    request_id = getattr(request, "request_id", None)
    if request_id:
        structlog.contextvars.bind_contextvars(request_id=request_id, ip=current_client()[0])


structlog_signals.bind_extra_request_metadata.connect(
    _bind_our_request_facts, dispatch_uid="config.api.middleware.request_id"
)


class DatabaseUnavailableMiddleware:
    """A view (or its request transaction's COMMIT) that lost the database answers 503
    ``database_unavailable`` in the error shape, also with ``DEBUG`` on. Errors raised
    outside the view (another middleware) reach ``handler500``, which does the same."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        logger.error(
            "database_unavailable", method=request.method, path=request.path, error=str(exception)
        )
        return database_unavailable_response()
