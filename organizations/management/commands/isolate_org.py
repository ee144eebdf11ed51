"""``isolate_org SLUG``: put one organization on shards of its own (Citus only)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.pg import OperationError
from organizations.operations.shards import add_transfer_mode_argument, organization_isolate


class Command(BaseCommand):
    help = (
        "On a Citus coordinator: move one organization's rows, in every colocated tenant"
        " table, to shards holding that organization alone (isolate_tenant_to_new_shard,"
        " CASCADE). Audited (system.org_isolated). docs/scaling.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        add_transfer_mode_argument(parser)

    def handle(self, **options: Any) -> None:
        try:
            result = organization_isolate(
                slug=options["slug"], transfer_mode=options["transfer_mode"]
            )
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        if result.already:
            self.stdout.write(
                f"{result.slug} is already alone on its shards (shard {result.shard_id} on"
                f" {result.node}). Nothing was changed."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Isolated {result.slug}: its rows are in shard {result.shard_id} (and the"
                f" colocated shards) on {result.node}. `manage.py rebalance` spreads the"
                " new shards over the workers."
            )
        )
