"""OpenAPI generation (drf-spectacular): the error responses of every operation, and
descriptions taken only from a class's own docstring.

Every operation lists the error statuses it can answer, each with the one error
envelope (component ``Error``), so generated clients know the shape:

=====  ==================================================================
400    the operation takes a body or query parameters
401    the view requires authentication
403    org routes (role, suspended organization)
404    org routes and any path with a parameter
413    the operation takes a body (``MAX_REQUEST_BODY_BYTES``)
415    the operation takes a body (JSON only, or the upload's declared types)
429    the view is throttled
500    every operation
other  what the view declares: ``declared_errors = {"PATCH": (409, 412), "*": (423,)}``
       (``"*"``: every method of the view)
=====  ==================================================================
"""

from __future__ import annotations

import inspect
from http import HTTPStatus
from typing import Any

from drf_spectacular.openapi import AutoSchema as _AutoSchema
from drf_spectacular.plumbing import get_override
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from organizations.api.base import OrgScopedAPIView  # org routes document 404s

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

DESCRIPTIONS = {
    400: "The request is invalid (`validation_error`, `parse_error`, ...).",
    401: "No valid credentials (`not_authenticated`, `token_not_valid`, `session_ended`, ...).",
    403: "Your role does not allow this (`permission_denied`, `organization_suspended`, ...).",
    404: "Not found, or not yours to see (`not_found`).",
    405: "Method not allowed (`method_not_allowed`).",
    409: "Conflicts with the current state (`conflict`, `slug_taken`, ...).",
    412: "A precondition (e.g. `If-Match`) does not hold.",
    413: "The body is too large (`payload_too_large`).",
    415: "The body's content type is not accepted (`unsupported_media_type`).",
    423: "The resource is locked.",
    429: "Throttled (`throttled`); retry after `Retry-After` seconds.",
    500: "Unexpected server error (`server_error`); quote the `request_id`.",
}


RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer"},
}


class ErrorBodySerializer(serializers.Serializer):
    """The error: a stable code, a human message, per-field details and the request id."""

    code = serializers.CharField(help_text="Stable, machine-readable: see docs/api.md.")
    message = serializers.CharField(help_text="For people; may change.")
    details = serializers.DictField(
        help_text="Per-field messages for validation errors, else an object (often empty)."
    )
    request_id = serializers.CharField(
        help_text="The X-Request-ID of the response; the server's log lines carry it."
    )


class ErrorSerializer(serializers.Serializer):
    """Every error response, 4xx or 5xx, has this shape."""

    error = ErrorBodySerializer()


def own_doc(obj: Any) -> str:
    """``obj``'s own docstring, never one inherited from a base class."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if doc else ""


def _requires_authentication(view: Any) -> bool:
    if not view.authentication_classes:
        return False
    return not all(issubclass(p, AllowAny) for p in view.permission_classes)


class AutoSchema(_AutoSchema):
    def get_description(self) -> str:  # type: ignore[override]
        action = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        return (own_doc(action) if action is not None else "") or own_doc(self.view.__class__)

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        description = get_override(serializer, "description", own_doc(type(serializer)))
        if description:
            schema["description"] = description
        else:
            schema.pop("description", None)
        return schema

    def error_statuses(self, operation: dict[str, Any]) -> set[int]:
        """The error statuses of this operation (see the module's table)."""
        view, method = self.view, self.method
        statuses = {500}
        has_body = "requestBody" in operation or (method in BODY_METHODS and method != "DELETE")
        has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if has_body or has_query:
            statuses.add(400)
        if has_body:
            statuses |= {413, 415}
        if _requires_authentication(view):
            statuses.add(401)
        if isinstance(view, OrgScopedAPIView):
            statuses |= {403, 404}
        if any(p.get("in") == "path" for p in operation.get("parameters", [])):
            statuses.add(404)
        if view.get_throttles():
            statuses.add(429)
        declared = getattr(view, "declared_errors", {})
        statuses |= set(declared.get("*", ())) | set(declared.get(method, ()))
        return statuses

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        ref = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        for status in sorted(self.error_statuses(operation)):
            response = {
                "description": DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
                "content": {"application/json": {"schema": ref}},
            }
            if status == 429:
                response["headers"] = {"Retry-After": RETRY_AFTER}
            responses.setdefault(str(status), response)
        return operation
