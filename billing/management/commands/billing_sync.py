"""``billing_sync [--org SLUG]``: reconcile subscriptions and invoices from Stripe."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.sync import billing_sync
from config.errors import DomainError


class Command(BaseCommand):
    help = "Reconcile subscriptions and invoices from Stripe (for missed webhooks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="only this organization (slug)")

    def handle(self, **options: Any) -> None:
        try:
            counts = billing_sync(org_slug=options["org"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                "Synced {organizations} organization(s): {subscriptions} subscription(s),"
                " {invoices} invoice(s).".format(**counts)
            )
        )
