"""``seed``: the deterministic demo data (idempotent), or ``--scale`` generated data.

Each app contributes its own steps in a ``seeding`` module: ``seed_demo(ctx)``
for the demo and ``seed_scale(ctx)`` for ``--scale``, run in ``INSTALLED_APPS``
order inside one service context, so apps added later extend both without
editing this command (see ``organizations.operations.scale_seed``).
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from organizations.operations.pg import OperationError
from organizations.operations.scale_seed import scale_seed, seeding_steps
from organizations.tenancy import service_context


class Command(BaseCommand):
    help = (
        "Create the demo organizations, users and data (idempotent), or with --scale load "
        "generated tenant data with COPY. Refused in production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale", action="store_true", help="load generated data instead of the demo"
        )
        parser.add_argument("--orgs", type=int, default=10, help="--scale: organizations")
        parser.add_argument(
            "--rows-per-org",
            type=int,
            default=100,
            help="--scale: rows per organization in each tenant table",
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="--scale: random seed (same seed, same data)"
        )

    def handle(self, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed refuses to run with production settings")
        if options["scale"]:
            self._scale(options)
            return
        ctx: dict[str, Any] = {}
        steps = seeding_steps("seed_demo")
        with service_context(reason="seed demo data"):
            for _label, step in tqdm(steps, desc="seeding", unit="app", disable=None):
                step(ctx)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready ({', '.join(label for label, _ in steps)}).")
        )

    def _scale(self, options: dict[str, Any]) -> None:
        try:
            result = scale_seed(
                orgs=options["orgs"], rows_per_org=options["rows_per_org"], seed=options["seed"]
            )
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        for table, count in result.counts.items():
            seconds = result.table_seconds[table]
            rate = f"{count / seconds:>10,.0f} rows/s" if seconds else ""
            self.stdout.write(f"  {table:<32} {count:>12,} rows {seconds:>7.2f}s {rate}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.rows:,} rows in {result.seconds:.2f}s "
                f"({result.rows_per_second:,.0f} rows/s; steps: {', '.join(result.steps)})."
            )
        )
