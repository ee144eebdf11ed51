"""Domain errors raised by services; the API's exception handler renders them
in the one error shape with their status and code."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details or {}


class Invalid(DomainError):
    """The request is well-formed but breaks a rule (400)."""


class Forbidden(DomainError):
    status_code = 403
    code = "permission_denied"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state (409): a taken slug, the last owner."""

    status_code = 409
    code = "conflict"


def slug_taken(message: str = "This slug is taken.") -> Conflict:
    """The 409 for a slug already used by a sibling (organization, project): code
    ``slug_taken``, the field named in ``details``."""
    return Conflict(message, code="slug_taken", details={"slug": ["This slug is taken."]})
