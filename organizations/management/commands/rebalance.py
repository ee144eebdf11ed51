"""``rebalance``: spread the tenant shards over the workers (Citus only)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.pg import OperationError
from organizations.operations.shards import add_transfer_mode_argument, shards_rebalance


class Command(BaseCommand):
    help = (
        "On a Citus coordinator: carry out the rebalancer's plan one shard group at a time"
        " (citus_move_shard_placement), with a progress bar; each move audited"
        " (system.shard_group_moved). docs/scaling.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--strategy",
            help="a pg_dist_rebalance_strategy name (default: the cluster's default,"
            " by_disk_size; by_shard_count evens out shard counts)",
        )
        add_transfer_mode_argument(parser)

    def handle(self, **options: Any) -> None:
        try:
            result = shards_rebalance(
                strategy=options["strategy"],
                transfer_mode=options["transfer_mode"],
                say=self.stdout.write,
            )
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        counts = ", ".join(f"{node}: {n}" for node, n in result.shards_per_node.items())
        if not result.moves:
            self.stdout.write(
                f"Already balanced ({result.strategy}); shard groups per worker: {counts}."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Moved {len(result.moves)} shard group(s) ({result.strategy});"
                f" shard groups per worker: {counts}."
            )
        )
