from typing import Any

from django.core.management.base import BaseCommand, CommandError

from organizations.operations.citus import distribute
from organizations.operations.pg import OperationError


class Command(BaseCommand):
    help = (
        "On a Citus coordinator, after migrate: tenant tables distributed by organization_id"
        " (colocated), global tables as reference tables, the cluster form of the policies."
    )

    def handle(self, **options: Any) -> None:
        try:
            done = distribute(say=self.stdout.write)
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Distributed: {done['distributed']} tenant tables, {done['reference']}"
                " reference tables (docs/scaling.md)."
            )
        )
