"""``deliver_webhooks``: send due webhook deliveries now (``--loop`` keeps polling).

The task worker (``db_worker``, started by ``make run``) delivers after every event
and retries on schedule; this command is the operator's catch-up, e.g. from cron
after the worker was down.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.webhooks import deliver_due


class Command(BaseCommand):
    help = "Send every webhook delivery that is due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep polling until interrupted")
        parser.add_argument("--interval", type=float, default=5.0, help="--loop: seconds")

    def handle(self, **options: Any) -> None:
        while True:
            sent = deliver_due()
            if sent or not options["loop"]:
                self.stdout.write(f"Sent {sent} webhook delivery attempt(s).")
            if not options["loop"]:
                return
            time.sleep(options["interval"])
