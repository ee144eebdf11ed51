from typing import Any

from django.core.management.base import BaseCommand, CommandError

from organizations.rls.citus import run_citus_checks


class Command(BaseCommand):
    help = (
        "Check that the schema fits a Citus cluster: keys and foreign keys carry the"
        " organization, policies have no sub-select, policy functions read no table."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--strict",
            action="store_true",
            help="fail on pending findings too (the cluster, after citus_distribute)",
        )

    def handle(self, **options: Any) -> None:
        report = run_citus_checks()
        for problem in report.pending:
            self.stdout.write(f"pending {problem}")
        for problem in report.problems:
            self.stderr.write(str(problem))
        failing = len(report.problems) + (len(report.pending) if options["strict"] else 0)
        if failing:
            raise CommandError(
                f"citus_check: {len(report.problems)} problem(s), {len(report.pending)} pending"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"citus_check passed ({len(report.pending)} pending for the cluster form,"
                " see docs/decisions/0013)."
            )
        )
