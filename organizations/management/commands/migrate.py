"""``migrate``, always as the owner role.

The runtime role owns nothing and cannot run DDL. Data migrations use the
default alias, so for the duration of the command ``default`` logs in as the
owner (:func:`organizations.tenancy.owner_as_default`).
"""

from typing import Any

from django.core.management.commands import migrate

from organizations.tenancy import owner_as_default


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        with owner_as_default():
            super().handle(*args, **options)
