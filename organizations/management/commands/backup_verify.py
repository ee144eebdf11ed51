"""``backup_verify``: prove a backup restores to exactly what its manifest says."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.backup import backup_verify
from organizations.operations.pg import OperationError


class Command(BaseCommand):
    help = (
        "Restore a backup into a scratch database, compare it with the manifest (row counts, "
        "checksums, RLS, migrations), drop the scratch database; exit non-zero on any mismatch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="backup directory (or its manifest.json)")

    def handle(self, **options: Any) -> None:
        try:
            result = backup_verify(Path(options["backup"]))
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        if result.mismatches:
            for line in result.mismatches:
                self.stderr.write(f"  {line}")
            raise CommandError(
                f"backup does NOT match its manifest: {len(result.mismatches)} difference(s)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup verified in {result.seconds:.1f}s: {result.tables} tables and "
                f"{result.rows} rows match the manifest; RLS identical (scratch database dropped)."
            )
        )
