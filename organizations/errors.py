"""Error codes the organizations app answers that ``config/errors.py`` does not define."""

from __future__ import annotations

ERROR_CODES: dict[str, tuple[int, str]] = {
    "organization_suspended": (
        403,
        "The organization is suspended by staff: it is read-only, gains no members "
        "(invitations cannot be accepted) and its queued jobs fail.",
    ),
    "api_key_not_allowed": (
        403,
        "An API key may not do this: the action is for people only (the `api_key` column"
        " of docs/permissions.md), or the route is not an organization's",
    ),
}
