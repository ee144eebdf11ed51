"""Error codes the organizations app answers that ``config/errors.py`` does not define."""

from __future__ import annotations

ERROR_CODES: dict[str, tuple[int, str]] = {
    "organization_suspended": (
        403,
        "The organization is suspended by staff: it is read-only, gains no members "
        "(invitations cannot be accepted) and its queued jobs fail.",
    ),
}
