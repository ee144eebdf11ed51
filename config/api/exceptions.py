"""One error shape for every API error.

    {"error": {"code": "not_found", "message": "...", "details": {...}, "request_id": "..."}}

``details`` carries field errors for validation failures and is ``{}``
otherwise.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import psycopg
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError as DjangoDatabaseError
from django.db import InterfaceError as DjangoInterfaceError
from django.db import OperationalError as DjangoOperationalError
from django.http import Http404, HttpRequest, JsonResponse
from psycopg import errors as pg_errors
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.api.request_context import current_request_id
from config.errors import DomainError

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": current_request_id(),
        }
    }


class _Domain(exceptions.APIException):
    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message, error.code)
        self.status_code = error.status_code
        self.details = error.details
        if error.code == "validation_error" and not error.details:
            # One shape for every validation error: messages keyed by field, or here
            # by DRF's name for a rule that concerns no single field.
            self.details = {"non_field_errors": [error.message]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        exc = _Domain(exc)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError("The request could not be processed.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif is_database_refusal(exc):
        # The database's own authorization said no where the app's checks let the
        # request through (a write RLS refused, or no grant): a 403, never a 500.
        # drf_exception_handler below marks the request's transaction for rollback.
        logger.warning(
            "database refused the request in %s: %s",
            type(context.get("view")).__name__,
            _refusal_summary(exc),
        )
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler renders it (see handler500)

    if isinstance(exc, exceptions.ValidationError):
        code, message = "validation_error", "The request is invalid."
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    else:
        detail, codes = exc.detail, exc.get_codes()
        if isinstance(
            detail, dict
        ):  # e.g. SimpleJWT: {"detail": ..., "code": ..., "messages": [...]}
            message = str(detail.get("detail", "The request was refused."))
            code = str(detail.get("code") or codes.get("detail", exc.default_code))
        else:
            message, code = str(detail), codes if isinstance(codes, str) else exc.default_code
        details = getattr(exc, "details", {})
    response.data = error_body(code, message, details)
    return response


def _json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(400, "bad_request", "The request could not be processed.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(403, "permission_denied", "You do not have permission to do this.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if request.path.startswith("/api/"):
        return _json_error(404, "not_found", unknown_api_route_message(request.path))
    return _json_error(404, "not_found", "Not found.")


def unknown_api_route_message(path: str) -> str:
    return f"No API route matches {path}; see /api/docs/."


def handler500(request: HttpRequest) -> JsonResponse:
    # Django calls this inside its `except` block: the error is still in sys.exc_info().
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response()
    return _json_error(500, "server_error", "An unexpected error occurred.")


# --- database refusals (403) ---------------------------------------------------------
# PostgreSQL answers SQLSTATE 42501 (insufficient_privilege) when a write breaks a
# row-level security policy's WITH CHECK ("new row violates row-level security policy
# for table ...") or when the role lacks a grant. Reads never raise it: RLS filters
# rows silently, and a row hidden that way is already a 404 in the app. So a refusal
# concerns only what the caller itself tried to write, in an organization it was let
# into, and says nothing about other tenants' objects: 403 ``permission_denied``
# (not 404). Django wraps psycopg's error in its own ``ProgrammingError``.


def is_database_refusal(exc: BaseException | None) -> bool:
    if not isinstance(exc, DjangoDatabaseError | psycopg.Error):
        return False
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    return isinstance(cause, pg_errors.InsufficientPrivilege)


def _refusal_summary(exc: BaseException) -> str:
    # The server's first line names the table and the kind of refusal, never a value.
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


# --- database unavailable (503) -------------------------------------------------------
# A lost or refused connection (the server restarting, a pooler or pool with no free
# connection, a statement cancelled by statement_timeout) is not a bug in the request:
# answer 503 with Retry-After in the error shape, never a 500 page. Django wraps psycopg's
# errors in its own classes; the psycopg ones can surface directly from the pool.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    DjangoOperationalError,
    DjangoInterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_UNAVAILABLE_ERRORS)


def database_unavailable_response() -> JsonResponse:
    response = _json_error(
        503, "database_unavailable", "The database is unavailable. Try again shortly."
    )
    response["Retry-After"] = str(settings.DB_UNAVAILABLE_RETRY_AFTER)
    return response
