from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from config import embedded_db


class Command(BaseCommand):
    help = "Start the embedded PostgreSQL under .data/pg (no-op with DATABASE_URL)."

    def handle(self, **options: Any) -> None:
        if not settings.EMBEDDED_DB:
            self.stdout.write("DATABASE_URL is set: using the external PostgreSQL.")
            return
        was_running = embedded_db.is_running()
        socket = embedded_db.start()
        state = "already running" if was_running else "started"
        self.stdout.write(f"Embedded PostgreSQL {state} (socket {socket}).")
