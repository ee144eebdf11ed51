"""``rotate_integration_keys``: re-encrypt every stored secret with the first key of
``INTEGRATIONS_ENCRYPTION_KEYS``.

Rotation: put the new key first in the variable (keep the old ones after it), run
this command, then remove the old keys. It works in batches (one short transaction
each, rows locked), is idempotent (re-running it re-encrypts again with the same
first key, harmlessly) and shows a progress bar on a terminal (quiet otherwise).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Model
from tqdm import tqdm

from integrations import crypto
from integrations.models import Integration, PlatformSecret, UserIntegration, WebhookEndpoint
from organizations.tenancy import service_context

# model -> its encrypted columns
ENCRYPTED: dict[type[Model], tuple[str, ...]] = {
    Integration: ("credentials_encrypted",),
    UserIntegration: ("credentials_encrypted",),
    WebhookEndpoint: ("secret_encrypted", "previous_secret_encrypted"),
    PlatformSecret: ("value_encrypted",),
}


def rotate_all(*, batch_size: int = 500) -> int:
    """Re-encrypt every encrypted column; the number of rows rewritten."""
    with service_context(reason="rotate_integration_keys: count"):
        total = sum(model.objects.count() for model in ENCRYPTED)
    done = 0
    with tqdm(total=total, desc="re-encrypting", unit="row", disable=None) as bar:
        for model, columns in ENCRYPTED.items():
            last_pk = None
            while True:
                with service_context(reason=f"rotate_integration_keys: {model._meta.label}"):
                    rows = model.objects.select_for_update().order_by("pk")
                    if last_pk is not None:
                        rows = rows.filter(pk__gt=last_pk)
                    batch = list(rows.only("pk", *columns)[:batch_size])
                    for row in batch:
                        for column in columns:
                            setattr(row, column, crypto.rotate(getattr(row, column)))
                    model.objects.bulk_update(batch, columns)
                if not batch:
                    break
                last_pk = batch[-1].pk
                done += len(batch)
                bar.update(len(batch))
    return done


class Command(BaseCommand):
    help = "Re-encrypt every stored credential and secret with the first encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, **options: Any) -> None:
        count = rotate_all(batch_size=options["batch_size"])
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} row(s) with the first key."))
