"""An app's error table as a new app writes it (collected by the registry test)."""

ERROR_CODES: dict[str, tuple[int, str]] = {
    "fake_locked": (423, "The fake resource is locked."),
    "slug_taken": (409, "Repeated with the core table's status: allowed."),
}
