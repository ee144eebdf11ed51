"""Create the database roles and the database (when an admin connection is
available), then migrate as the owner. Idempotent and quick on re-runs.

On a Citus coordinator (``DATABASE_CITUS=true``) the migrated tables are then
distributed (``citus_distribute``). ``--no-migrate`` stops after the roles and the
database: how ``make test-citus`` prepares each node of its cluster."""

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from organizations import roles


class Command(BaseCommand):
    help = "Create roles and database if needed, then migrate (as the owner role)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-migrate",
            action="store_true",
            help="only roles and database (a Citus worker is prepared this way)",
        )

    def handle(self, **options: Any) -> None:
        if settings.DATABASE_ADMIN:
            created = roles.ensure_roles_and_database()
            for line in created:
                self.stdout.write(f"  {line}")
        else:
            self.stdout.write("No DATABASE_ADMIN_URL: assuming roles and database exist.")
        if options["no_migrate"]:
            self.stdout.write("Roles and database ready (not migrated: --no-migrate).")
            return
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready (migrated as the owner role).")
        if settings.DATABASE_CITUS:
            call_command("citus_distribute", stdout=self.stdout)
