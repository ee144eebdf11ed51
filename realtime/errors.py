"""Error codes of the realtime feed (status, meaning)."""

ERROR_CODES: dict[str, tuple[int, str]] = {
    "ticket_invalid": (401, "The event-stream ticket is unknown, used, expired or not this org's."),
    "too_many_streams": (429, "Too many open event streams for this user, key or organization."),
}
