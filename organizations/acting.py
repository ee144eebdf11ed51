"""Whether a staff member is acting in the admin: set by the staff admin's service
context middleware (``organizations.tenancy``), read by the audit trail to label the
actor ``staff``.

A module of its own so that ``audit.services`` reads it without importing
``organizations.tenancy``, which records ``system.elevated`` through the audit trail
(the two imported each other; the function-level import that hid it is gone).
"""

from __future__ import annotations

from contextvars import ContextVar

_staff_acting: ContextVar[bool] = ContextVar("staff_acting", default=False)


def staff_acting() -> bool:
    """Whether the current request is a staff member working in the admin."""
    return _staff_acting.get()
