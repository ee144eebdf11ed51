from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from organizations.permissions import render_markdown

DOC = Path(settings.BASE_DIR) / "docs" / "permissions.md"


class Command(BaseCommand):
    help = "Write docs/permissions.md from the permission matrix (--check: fail if stale)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true", help="only report whether it is stale")

    def handle(self, **options: Any) -> None:
        content = render_markdown()
        if options["check"]:
            if not DOC.exists() or DOC.read_text() != content:
                raise CommandError("docs/permissions.md is stale: run `manage.py permissions_doc`")
            self.stdout.write("docs/permissions.md is current.")
            return
        DOC.write_text(content)
        self.stdout.write(f"Wrote {DOC.relative_to(settings.BASE_DIR)}")
