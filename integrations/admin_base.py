"""What the integrations' staff screens share: read-only, secret columns never shown.

A module of its own so that ``admin`` and ``admin_sync`` both import it (``admin_sync``
importing ``admin`` while ``admin`` imported ``admin_sync`` was a cycle).
"""

from __future__ import annotations

from config.admin import ReadOnlyActionsAdmin

SECRET_COLUMNS = {
    "hashed_key",
    "credentials_encrypted",
    "secret_encrypted",
    "previous_secret_encrypted",
    "value_encrypted",
}


class RedactedReadOnlyAdmin(ReadOnlyActionsAdmin):
    """Every column but the secret ones, read-only."""

    # SECURITY: the secret columns are never rendered, not even as form fields.
    hidden_fields = SECRET_COLUMNS
