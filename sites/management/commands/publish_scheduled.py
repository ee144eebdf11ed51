"""``publish_scheduled``: publish due page versions and take expired pages down.

Safe to run from several processes at once (rows are claimed ``FOR UPDATE SKIP
LOCKED``). ``--every N`` keeps running, once every N seconds (``make run`` does).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connections

from sites.services.pages import publish_due


class Command(BaseCommand):
    help = "Publish scheduled page versions that are due; unpublish expired pages."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--every", type=int, default=0, help="Repeat every N seconds until interrupted."
        )

    def handle(self, **options: Any) -> None:
        while True:
            done = publish_due()
            if done["published"] or done["expired"] or options["verbosity"] > 1:
                self.stdout.write(
                    f"published {done['published']} page(s), took down {done['expired']}"
                )
            if not options["every"]:
                return
            connections.close_all()
            try:
                time.sleep(options["every"])
            except KeyboardInterrupt:
                return
