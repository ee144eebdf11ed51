"""``db_validate``: orphans, cross-tenant references, constraints, RLS, bloat."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.validate import database_validate


class Command(BaseCommand):
    help = (
        "Validate the database: orphaned rows, rows whose organization differs from their "
        "parent's, constraints re-checked against the data, RLS compliance (rls_check), table "
        "sizes and dead-tuple bloat. Exit non-zero on problems."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, **options: Any) -> None:
        report = database_validate()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            for finding in report.findings:
                (self.stderr if finding.severity == "problem" else self.stdout).write(str(finding))
            self.stdout.write(f"\n  {'table':<36} {'live rows':>12} {'dead':>10} {'size':>10}")
            for t in report.tables:
                self.stdout.write(
                    f"  {t.table:<36} {t.live_rows:>12,} {t.dead_rows:>10,} "
                    f"{t.total_bytes / 1e6:>8.1f}MB"
                )
        if not report.ok:
            raise CommandError(f"db_validate: {len(report.problems)} problem(s)")
        if not options["json"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"db_validate passed ({len(report.findings)} note(s)/warning(s))."
                )
            )
