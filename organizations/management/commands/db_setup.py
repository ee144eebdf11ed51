"""Create the database roles and the database (when an admin connection is
available), then migrate as the owner. Idempotent and quick on re-runs."""

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from organizations import roles


class Command(BaseCommand):
    help = "Create roles and database if needed, then migrate (as the owner role)."

    def handle(self, **options: Any) -> None:
        if settings.DATABASE_ADMIN:
            created = roles.ensure_roles_and_database()
            for line in created:
                self.stdout.write(f"  {line}")
        else:
            self.stdout.write("No DATABASE_ADMIN_URL: assuming roles and database exist.")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready (migrated as the owner role).")
