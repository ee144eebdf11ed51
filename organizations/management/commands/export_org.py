"""``export_org``: one tenant's rows as a self-describing archive."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.archive import organization_export
from organizations.operations.pg import OperationError


class Command(BaseCommand):
    help = (
        "Export one organization (every tenant table, found from the models, plus the users "
        "its rows reference) as a .tar.gz archive with a JSON manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--output", help="archive file (default: backups/org-<slug>-<timestamp>.tar.gz)"
        )
        parser.add_argument(
            "--include-password-hashes",
            action="store_true",
            help="also export the users' password hashes (treat the archive as a credential)",
        )

    def handle(self, **options: Any) -> None:
        try:
            result = organization_export(
                slug=options["slug"],
                output=Path(options["output"]) if options["output"] else None,
                include_password_hashes=options["include_password_hashes"],
            )
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        for table, rows in result.rows.items():
            self.stdout.write(f"  {table:<40} {rows:>10,}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {result.organization['slug']} to {result.path} in "
                f"{result.seconds:.1f}s: {sum(result.rows.values()):,} rows, {result.users} "
                f"users (sha256 {result.sha256[:16]}…)."
            )
        )
