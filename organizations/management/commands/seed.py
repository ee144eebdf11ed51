"""``seed``: the deterministic demo data, idempotent.

Each app contributes its own step: a ``seeding`` module with
``seed_demo(ctx)``, run in ``INSTALLED_APPS`` order inside one service
context, so apps added later extend the demo without editing this command.
"""

from importlib import import_module
from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from organizations.tenancy import service_context


def seeding_steps() -> list[tuple[str, Any]]:
    steps = []
    for config in apps.get_app_configs():
        name = f"{config.name}.seeding"
        if find_spec(name) is not None:
            steps.append((config.label, import_module(name).seed_demo))
    return steps


class Command(BaseCommand):
    help = "Create the demo organizations, users and data (idempotent; refused in production)."

    def handle(self, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed refuses to run with production settings")
        ctx: dict[str, Any] = {}
        steps = seeding_steps()
        with service_context(reason="seed demo data"):
            for _label, step in tqdm(steps, desc="seeding", unit="app", disable=None):
                step(ctx)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready ({', '.join(label for label, _ in steps)}).")
        )
