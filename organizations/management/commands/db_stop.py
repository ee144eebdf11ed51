from typing import Any

from django.core.management.base import BaseCommand

from config import embedded_db


class Command(BaseCommand):
    help = "Stop the embedded PostgreSQL under .data/pg, if it runs."

    def handle(self, **options: Any) -> None:
        stopped = embedded_db.stop()
        self.stdout.write(
            "Embedded PostgreSQL stopped." if stopped else "Embedded PostgreSQL was not running."
        )
