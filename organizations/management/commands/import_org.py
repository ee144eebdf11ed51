"""``import_org``: load an ``export_org`` archive, preserving ids."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.archive import organization_import
from organizations.operations.pg import OperationError


class Command(BaseCommand):
    help = (
        "Import an organization archive made by export_org (ids preserved, one transaction, "
        "checked against the archive's checksums before commit)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="the .tar.gz written by export_org")

    def handle(self, **options: Any) -> None:
        try:
            result = organization_import(path=Path(options["archive"]))
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        for table, rows in result.inserted.items():
            extra = ""
            if result.already_present.get(table):
                extra += f"  ({result.already_present[table]:,} already present)"
            if result.rewritten_by_triggers.get(table):
                extra += f"  ({result.rewritten_by_triggers[table]:,} re-chained by the trigger)"
            self.stdout.write(f"  {table:<40} {rows:>10,}{extra}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.organization['slug']} in {result.seconds:.1f}s: "
                f"{sum(result.inserted.values()):,} rows; users: {result.users_created} created, "
                f"{result.users_reused} already here."
            )
        )
