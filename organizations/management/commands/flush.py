"""``flush``, always through the owner connection.

TRUNCATE ignores Row Level Security, so the runtime roles are not granted it;
Django's test framework flushes between ``TransactionTestCase`` tests, which
lands here.
"""

from typing import Any

from django.core.management.commands import flush

from organizations.tenancy import OWNER_DB_ALIAS


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        options["database"] = OWNER_DB_ALIAS
        super().handle(**options)
