"""``serve``: the development server and the task worker, in the foreground.

Prints where everything is and who can sign in; Ctrl-C stops both processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.seeding import DEMO_PASSWORD, DEMO_USERS, STAFF_EMAIL
from organizations import hooks


class Command(BaseCommand):
    help = "Run the web server and the task worker until interrupted."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))

    def handle(self, **options: Any) -> None:
        base = f"http://{options['host']}:{options['port']}"
        self.banner(base)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        children = [
            subprocess.Popen([*manage, "db_worker", "--no-startup-delay"]),  # noqa: S603 - fixed argv
            # The ASGI application: the live event feed and, beside it, the whole API
            # (realtime/asgi.py). No access log: Django logs each request, redacted.
            subprocess.Popen(  # noqa: S603 - fixed argv
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--host",
                    options["host"],
                    "--port",
                    str(options["port"]),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "3",
                ]
            ),
            # Scheduled page publishing (sites): due versions go live, expired pages down.
            subprocess.Popen(  # noqa: S603 - fixed argv
                [*manage, "publish_scheduled", "--every", str(settings.SITES_SCHEDULER_INTERVAL)]
            ),
        ]

        def stop(*_: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    def banner(self, base: str) -> None:
        w = self.stdout.write
        w("")
        w(self.style.SUCCESS("SaaS platform is starting"))
        w(f"  API health   {base}/api/v1/health/")
        w(f"  API docs     {base}/api/docs/")
        w(f"  OpenAPI      {base}/api/schema/")
        w(f"  Live events  {base}/api/v1/orgs/acme/events/   (Server-Sent Events)")
        w(f"  Admin        {base}/admin/   (staff: {STAFF_EMAIL})")
        w(f"  Demo site    {base}/p/acme/acme-studio/")
        w(f"  Demo logins  password for all: {DEMO_PASSWORD}")
        for email, name in DEMO_USERS:
            w(f"               {email:<22} {name}")
        # Higher apps' demo credentials (integrations: the demo API key).
        for lines in hooks.run(hooks.SERVE_BANNER, base_url=base):
            for line in lines:
                w(f"  {line}")
        w(
            "  Sign in      curl -X POST -H 'Content-Type: application/json' "
            f'-d \'{{"email": "owner@acme.test", "password": "{DEMO_PASSWORD}"}}\' '
            f"{base}/api/v1/auth/token/"
        )
        w("  Stop         Ctrl-C (the embedded database keeps running: make db-stop)")
        w("")
