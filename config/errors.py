"""Domain errors raised by services, and the registry of every error code the API
can answer.

The exception handler renders a :class:`DomainError` in the one error shape with
its status and code. Every code that can reach a client is registered: the core
codes below (DRF's, the ones this module and the project's shared machinery
raise) plus each installed project app's optional ``<app>/errors.py``, which
exports ``ERROR_CODES: dict[str, tuple[int, str]]`` (code -> (HTTP status,
meaning)). ``docs/api.md`` lists the registry (``manage.py errors_doc``); the
request-id middleware refuses, in tests, an error response whose code is not
registered or whose status differs from the registered one, and
``tests/api/test_error_registry.py`` scans the sources for codes nobody registered.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.db import IntegrityError, transaction


class DomainError(Exception):
    status_code = 400
    code = "validation_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details or {}


class Invalid(DomainError):
    """The request is well-formed but breaks a rule (400 ``validation_error``, the one
    code of field errors: ``details`` names the fields, else holds ``non_field_errors``)."""


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


def invalid_choice_message(value: str, choices: Iterable[Any]) -> str:
    """The one wording of an invalid choice, naming the valid values (request bodies,
    list filters, services): ``"boss" is not a valid choice; valid: owner, admin.``"""
    return f'"{value}" is not a valid choice; valid: {", ".join(str(c) for c in choices)}.'


def slug_taken(message: str = "This slug is taken.") -> Conflict:
    """The 409 for a slug already used by a sibling (organization, project): code
    ``slug_taken``, the field named in ``details``."""
    return Conflict(message, code="slug_taken", details={"slug": ["This slug is taken."]})


@contextmanager
def conflict_on_duplicate(error: Conflict) -> Iterator[None]:
    """Run the block in a savepoint; a unique violation inside it becomes ``error`` (409)
    and the savepoint is rolled back, so the caller's transaction goes on.

    Any other integrity error (NOT NULL, foreign key, check) is not a conflict with
    existing state: it propagates unchanged.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        # Django re-raises psycopg's error as its own, the original as ``__cause__``.
        if not isinstance(exc.__cause__, psycopg.errors.UniqueViolation):
            raise
        raise error from exc


# --- The registry ------------------------------------------------------------------
# Codes of the shared machinery (DRF, authentication, the tenancy base views, the
# error handlers) and of the apps that existed before per-app ``errors.py`` modules.
# A new app puts its codes in ``<app>/errors.py`` instead of growing this table.
CORE_ERROR_CODES: dict[str, tuple[int, str]] = {
    # 400
    "validation_error": (
        400,
        "The request is invalid or breaks a rule; `details` maps each field (or "
        "`non_field_errors`) to its messages; an invalid choice lists the valid ones.",
    ),
    "parse_error": (400, "The body is not valid JSON, or could not be processed."),
    "bad_request": (400, "The request was refused before reaching the API (e.g. a bad Host)."),
    "wrong_password": (400, "The current password given to change the password is wrong."),
    "not_org_member": (400, "Only members of the organization can be added to its project."),
    "invitation_expired": (400, "The invitation has expired; ask for a new one."),
    # 401
    "not_authenticated": (401, "No credentials were sent."),
    "authentication_failed": (401, "The credentials were not accepted."),
    "bad_authorization_header": (401, "The `Authorization` header is malformed."),
    "token_not_valid": (401, "The token is invalid, expired or of the wrong type."),
    "session_ended": (401, "The session of this token was revoked or has expired; sign in again."),
    "user_inactive": (401, "The account is disabled."),
    "invalid_credentials": (401, "The email or password is wrong."),
    # 403
    "permission_denied": (403, "Your role does not allow this action."),
    "organization_suspended": (403, "The organization is suspended and read-only."),
    "invitation_email_mismatch": (403, "The invitation was sent to another email address."),
    # 404
    "not_found": (404, "No such resource, or not one you may see (never a 403 across tenants)."),
    "invitation_invalid": (404, "The invitation link is not valid."),
    # 405, 406
    "method_not_allowed": (405, "The resource does not support this HTTP method."),
    "not_acceptable": (406, "The API answers JSON only (see the `Accept` header)."),
    # 409
    "conflict": (409, "The request conflicts with the current state."),
    "slug_taken": (409, "The slug is already used by a sibling; `details.slug` says so."),
    "email_taken": (409, "An account with this email address exists."),
    "last_owner": (409, "The organization would be left without an owner."),
    "already_member": (409, "This person is already a member of the organization."),
    "invitation_exists": (409, "A pending invitation for this email exists."),
    "invitation_closed": (409, "The invitation was already accepted, declined or revoked."),
    "project_archived": (409, "The project is archived: unarchive it before changing it."),
    "path_taken": (409, "A file of the project already has this path."),
    "file_limit": (409, "The project holds the most files allowed (`PROJECT_MAX_FILES`)."),
    "file_deleted": (409, "The file is deleted; restore it first."),
    "snapshot_name_taken": (409, "The project already has a snapshot of this name."),
    "already_project_member": (409, "This person is already on the project."),
    "invalid_transition": (409, "The object's status does not allow this change."),
    "job_finished": (409, "The job has already finished."),
    # 413, 415
    "payload_too_large": (413, "The request body is over the allowed size."),
    "file_too_large": (413, "The file's content is over `PROJECT_MAX_FILE_BYTES`."),
    "unsupported_media_type": (415, "The body's content type is not accepted here."),
    # 429
    "throttled": (429, "Too many requests; retry after `Retry-After` seconds."),
    # 5xx
    "server_error": (500, "An unexpected error; quote the `request_id` when reporting it."),
    "database_unavailable": (503, "The database cannot be reached; retry later."),
}


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    meaning: str
    source: str  # "config.errors" or the app's errors module


class ErrorRegistryError(Exception):
    """Two modules register one code with different statuses, or a table is malformed."""


class UnregisteredErrorCode(AssertionError):
    """An error response carries a code the registry does not know (or another status)."""


def project_app_modules() -> list[str]:
    """The installed apps that are part of this project (not third-party packages)."""
    from django.apps import apps
    from django.conf import settings

    base = Path(settings.BASE_DIR).resolve()
    names = []
    for app_config in apps.get_app_configs():
        path = Path(app_config.path).resolve()
        if path.is_relative_to(base) and not {".venv", "site-packages"} & set(path.parts):
            names.append(app_config.name)
    return names


def _validated(table: Any, source: str) -> dict[str, tuple[int, str]]:
    if not isinstance(table, dict):
        raise ErrorRegistryError(f"{source}.ERROR_CODES must be a dict")
    for code, entry in table.items():
        if (
            not isinstance(code, str)
            or not isinstance(entry, tuple)
            or len(entry) != 2
            or not isinstance(entry[0], int)
            or not 400 <= entry[0] <= 599
            or not isinstance(entry[1], str)
        ):
            raise ErrorRegistryError(
                f"{source}.ERROR_CODES[{code!r}] must be (HTTP status 4xx/5xx, meaning)"
            )
    return table


@functools.cache
def error_codes() -> dict[str, ErrorCode]:
    """Every registered code: the core table, then each project app's ``errors.py``.

    An app may repeat a code with the same status (its meaning is kept from the first
    registration); a different status is a contradiction and raises.
    """
    registry = {
        code: ErrorCode(code, status, meaning, __name__)
        for code, (status, meaning) in CORE_ERROR_CODES.items()
    }
    for app in project_app_modules():
        module_name = f"{app}.errors"
        if importlib.util.find_spec(module_name) is None:
            continue
        table = getattr(importlib.import_module(module_name), "ERROR_CODES", None)
        if table is None:
            continue
        for code, (status, meaning) in _validated(table, module_name).items():
            known = registry.get(code)
            if known is None:
                registry[code] = ErrorCode(code, status, meaning, module_name)
            elif known.status != status:
                raise ErrorRegistryError(
                    f"{module_name} registers {code!r} as {status}, "
                    f"{known.source} as {known.status}"
                )
    return registry


def check_error_response(status: int, code: str) -> str | None:
    """Why an error response with this status and code breaks the contract, or None."""
    known = error_codes().get(code)
    if known is None:
        return (
            f"error code {code!r} (HTTP {status}) is not registered: add it to an "
            "`<app>/errors.py` ERROR_CODES and run `manage.py errors_doc`"
        )
    if known.status != status:
        return f"error code {code!r} is registered as {known.status} but answered {status}"
    return None


def render_markdown_table() -> str:
    """The registry as the Markdown table of ``docs/api.md`` (by status, then code)."""
    lines = [
        "| status | code | meaning |",
        "|---|---|---|",
    ]
    for entry in sorted(error_codes().values(), key=lambda e: (e.status, e.code)):
        lines.append(f"| {entry.status} | `{entry.code}` | {entry.meaning} |")
    return "\n".join(lines) + "\n"
