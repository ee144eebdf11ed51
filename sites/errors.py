"""Error codes the sites app can answer beyond those of ``config/errors.py``.

:data:`ERROR_CODES` lists them (code -> (HTTP status, meaning)); the classes are
the :class:`config.errors.DomainError` subclasses the services raise.
"""

from __future__ import annotations

from typing import Any

from config.errors import Conflict, DomainError

ERROR_CODES: dict[str, tuple[int, str]] = {
    "precondition_failed": (412, "If-Match names an older version of the page: reload it"),
    "precondition_required": (428, "A page write needs an If-Match header (the page's ETag)"),
    "page_locked": (423, "Someone else holds the page's edit lock"),
    "path_taken": (409, "Another page of the site has this path"),
    "site_archived": (409, "The site is archived; unarchive it first"),
    "deployment_in_progress": (409, "A deployment of this site and environment is in flight"),
    "deployment_not_ready": (409, "Only a ready production deployment can be rolled back to"),
    "deployment_final": (409, "The deployment has already finished"),
    "nothing_published": (409, "The site has no published page to deploy"),
    "deployment_integration_missing": (
        409,
        "The site's deployment integration is gone or not visible to the deployer",
    ),
    "hostname_taken": (409, "The hostname is verified for another site"),
    "version_not_found": (404, "The page has no version with this number"),
    "schedule_pending": (
        409,
        "A publication is already scheduled; send replace_schedule: true to replace it",
    ),
    "nothing_to_publish": (409, "No page of the site has unpublished changes"),
}


class PreconditionFailed(DomainError):
    status_code = 412
    code = "precondition_failed"


class PreconditionRequired(DomainError):
    status_code = 428
    code = "precondition_required"


class PageLocked(DomainError):
    status_code = 423
    code = "page_locked"


def conflict(code: str, message: str, *, details: Any = None) -> Conflict:
    assert code in ERROR_CODES, code
    return Conflict(message, code=code, details=details)
