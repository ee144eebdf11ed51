"""``secret_set NAME``: store an installation secret (``PlatformSecret``), encrypted.

The value is read from standard input (or a hidden prompt on a terminal), never from
the command line, where it would land in shell history and process listings.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.services import platform_secret_set
from organizations.tenancy import service_context


class Command(BaseCommand):
    help = "Store an installation secret; the value comes from stdin or a hidden prompt."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the secret's name (letters, digits, - and _)")

    def handle(self, *, name: str, **options: Any) -> None:
        stdin = options.get("stdin") or sys.stdin
        if stdin.isatty():
            value = getpass.getpass(f"Value for {name}: ")
        else:
            value = stdin.read().rstrip("\r\n")
        if not value:
            raise CommandError("An empty value was given; nothing stored.")
        with service_context(reason=f"secret_set {name}"):
            platform_secret_set(name=name, value=value)
        self.stdout.write(self.style.SUCCESS(f"Secret {name} stored (encrypted)."))
