from typing import Any

from django.core.management.base import BaseCommand, CommandError

from organizations.rls.checks import guarded_tables, run_checks


class Command(BaseCommand):
    help = (
        "Lint Row Level Security: every tenant table guarded, policies sound, runtime role limited."
    )

    def handle(self, **options: Any) -> None:
        problems = run_checks()
        for problem in problems:
            self.stderr.write(str(problem))
        if problems:
            raise CommandError(f"rls_check: {len(problems)} problem(s)")
        self.stdout.write(
            self.style.SUCCESS(f"rls_check passed: {len(guarded_tables())} tables guarded.")
        )
