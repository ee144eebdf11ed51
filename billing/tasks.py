"""Background work of the billing app (Django Tasks API)."""

from __future__ import annotations

import time

import stripe
from django.conf import settings
from django.db.models import F
from django_tasks import task

from billing.models import Subscription, UsageCounter
from billing.stripe_client import stripe_client, stripe_configured
from organizations.tenancy import service_context


@task()
def usage_report_to_stripe() -> dict[str, int]:
    """Report metered usage to Stripe meter events (``STRIPE_METER_EVENTS``: metric ->
    meter event name), for organizations with a Stripe customer.

    Each report carries the counter's **cumulative** ``used`` for the month (configure
    the Stripe meter with aggregation ``last``) and the identifier
    ``"<our counter row id>:<used>"``: a retry of the same report is deduplicated by
    Stripe, and a lost report is healed by the next one. Run it periodically
    (e.g. hourly) with the worker.
    """
    meters = settings.STRIPE_METER_EVENTS
    if not stripe_configured() or not meters:
        return {"reported": 0}
    client = stripe_client()
    with service_context(reason="usage report to Stripe: read counters"):
        rows = list(
            UsageCounter.objects.filter(metric__in=list(meters), used__gt=F("reported")).values(
                "id", "organization_id", "metric", "used"
            )
        )
        customers = dict(
            Subscription.objects.filter(organization_id__in={r["organization_id"] for r in rows})
            .exclude(stripe_customer_id="")
            .values_list("organization_id", "stripe_customer_id")
        )
    reported = []
    for row in rows:
        customer = customers.get(row["organization_id"])
        if not customer:
            continue
        try:
            client.v1.billing.meter_events.create(
                {
                    "event_name": meters[row["metric"]],
                    "identifier": f"{row['id']}:{row['used']}",
                    "payload": {"stripe_customer_id": customer, "value": str(row["used"])},
                    "timestamp": int(time.time()),
                }
            )
        except stripe.StripeError:
            continue  # the next run reports it again (same identifier if unchanged)
        reported.append(row)
    if reported:
        with service_context(reason="usage report to Stripe: mark reported"):
            for row in reported:
                UsageCounter.objects.filter(id=row["id"], reported__lt=row["used"]).update(
                    reported=row["used"]
                )
    return {"reported": len(reported)}
