"""``flush``, as the owner role.

TRUNCATE ignores Row Level Security, so the runtime roles are not granted it.
Django's test framework flushes between ``TransactionTestCase`` tests, which
lands here; the default alias logs in as the owner for the duration
(:func:`organizations.tenancy.owner_as_default`).
"""

from typing import Any

from django.core.management.commands import flush

from organizations.tenancy import owner_as_default


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with owner_as_default():
            super().handle(**options)
