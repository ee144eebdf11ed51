"""``erase_org``: delete one tenant's rows (``--dry-run`` lists them)."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.operations.archive import organization_erase
from organizations.operations.pg import OperationError

ACTIONS = {
    "delete": "delete",
    "cascade": "delete (database cascade)",
    "keep": "keep (append-only audit trail)",
}


class Command(BaseCommand):
    help = (
        "Erase one organization and every tenant row (children first, one transaction); "
        "append-only audit events are kept. --dry-run lists per-table counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would go; change nothing"
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="do not ask to type the slug to confirm",
        )

    def handle(self, **options: Any) -> None:
        slug = options["slug"]
        if not options["dry_run"] and options["interactive"] and sys.stdin.isatty():
            answer = input(f"This permanently erases {slug!r}. Type the slug to confirm: ")
            if answer.strip() != slug:
                raise CommandError("not confirmed; nothing was erased")
        try:
            result = organization_erase(slug=slug, dry_run=options["dry_run"])
        except OperationError as exc:
            raise CommandError(str(exc)) from exc
        for item in result.items:
            self.stdout.write(f"  {item.table:<40} {item.rows:>10,}  {ACTIONS[item.action]}")
        gone = sum(i.rows for i in result.items if i.action != "keep")
        if result.dry_run:
            self.stdout.write(
                f"Dry run: erasing {slug} would delete {gone:,} rows. Nothing changed."
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Erased {slug}: {gone:,} rows deleted."))
