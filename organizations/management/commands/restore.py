"""``restore``: a backup into an empty or new database, then verified against its manifest."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.backup import backup_restore
from organizations.operations.pg import OperationError


class Command(BaseCommand):
    help = (
        "Restore a backup directory into an empty database (default: the configured one) or a "
        "new one (--database), then verify row counts, checksums and RLS against the manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="backup directory (or its manifest.json)")
        parser.add_argument(
            "--database", help="restore into this database; created if it does not exist"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="drop and recreate a non-empty target database first (needs DATABASE_ADMIN_URL)",
        )

    def handle(self, **options: Any) -> None:
        try:
            result = backup_restore(
                Path(options["backup"]), database=options["database"], force=options["force"]
            )
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        if result.mismatches:
            for line in result.mismatches:
                self.stderr.write(f"  {line}")
            raise CommandError(
                f"restored into {result.database}, but {len(result.mismatches)} difference(s) "
                "from the manifest; the database was left in place for inspection"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored into {result.database} in {result.seconds:.1f}s and verified: "
                f"{result.tables} tables, {result.rows} rows, RLS policies and FORCE flags "
                "identical to the manifest."
            )
        )
