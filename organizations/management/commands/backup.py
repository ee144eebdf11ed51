"""``backup``: the whole database as ``pg_dump`` custom format plus a verified manifest."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.backup import backup_create
from organizations.operations.pg import OperationError


class Command(BaseCommand):
    help = (
        "Back up the whole database (pg_dump -Fc as the schema owner, consistent with a "
        "manifest of per-table row counts and checksums, RLS state and migrations)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            default=str(Path(settings.BASE_DIR) / "backups"),
            help="directory that receives the backup directory (default: backups/)",
        )
        parser.add_argument(
            "--keep", type=int, help="afterwards keep only the N newest backups of this database"
        )
        parser.add_argument(
            "--encrypt",
            action="store_true",
            help="encrypt the dump with the Fernet key(s) in BACKUP_ENCRYPTION_KEY",
        )

    def handle(self, **options: Any) -> None:
        try:
            result = backup_create(
                output_dir=Path(options["output"]), keep=options["keep"], encrypt=options["encrypt"]
            )
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        rows = sum(t["rows"] for t in manifest["tables"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {result.path} in {result.seconds:.1f}s: "
                f"{len(manifest['tables'])} tables, {rows} rows, "
                f"{manifest['dump']['bytes'] / 1e6:.1f} MB"
                + (" (encrypted)" if manifest["dump"]["encryption"] else "")
                + "."
            )
        )
        for path in result.removed:
            self.stdout.write(f"  removed old backup {path.name}")
