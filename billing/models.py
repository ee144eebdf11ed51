"""Plans, Stripe subscriptions, invoices, usage metering and quotas, cost estimates.

Two tables are global on purpose (``organizations/rls/checks.py`` lists them):
``Plan`` (the catalog, readable by everyone, written only by staff through the
service role) and ``StripeEvent`` (the webhook inbox: RLS forced with no
policy, so only the service role reaches it). Every other table is a tenant
table guarded by ``migrations/0002_rls.py``; ``Subscription``, ``Invoice`` and
``SubscriptionEvent`` have no write policy for the app role at all — Stripe is
their source of truth and only the webhook/sync path (service context) writes.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from organizations.models import Organization, TenantModel, user_fk

# The metric names the API, the plans and the quotas share.
METRICS: tuple[str, ...] = (
    "projects",
    "sites",
    "members",
    "api_calls",
    "ai_tokens",
    "storage_bytes",
    "deployments",
    "webhook_endpoints",
)
# Counted from the rows that exist now (checked under the subscription row lock).
COUNTED_METRICS = frozenset({"projects", "sites", "members", "storage_bytes", "webhook_endpoints"})
# Consumed per calendar month (UTC) in ``UsageCounter`` rows.
METERED_METRICS = frozenset({"api_calls", "ai_tokens", "deployments"})


class Plan(models.Model):
    """A catalog entry. A ``NULL`` limit means unlimited."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=60)
    sort_order = models.PositiveSmallIntegerField(default=0)
    monthly_price_cents = models.PositiveIntegerField(default=0, help_text="For display only.")
    projects = models.BigIntegerField(null=True, blank=True)
    sites = models.BigIntegerField(null=True, blank=True)
    members = models.BigIntegerField(null=True, blank=True, help_text="Members + open invitations.")
    api_calls = models.BigIntegerField(null=True, blank=True, help_text="Per calendar month.")
    ai_tokens = models.BigIntegerField(null=True, blank=True, help_text="Per calendar month.")
    storage_bytes = models.BigIntegerField(null=True, blank=True)
    deployments = models.BigIntegerField(null=True, blank=True, help_text="Per calendar month.")
    webhook_endpoints = models.BigIntegerField(null=True, blank=True)
    features = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.code

    def limits(self) -> dict[str, int | None]:
        return {metric: getattr(self, metric) for metric in METRICS}


class Subscription(TenantModel):
    """One per organization. Written only by the webhook/sync path (service context)."""

    # The one-per-organization unique index serves every look-up by organization.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Status(models.TextChoices):
        TRIALING = "trialing"
        ACTIVE = "active"
        PAST_DUE = "past_due"
        INCOMPLETE = "incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired"
        UNPAID = "unpaid"
        CANCELED = "canceled"
        PAUSED = "paused"

    plan_code = models.SlugField(max_length=30, default="free")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    stripe_price_id = models.CharField(max_length=255, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    trial_end = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    # When the status became past_due (the event's time): the grace period runs from here.
    past_due_since = models.DateTimeField(null=True, blank=True)
    # `created` of the last Stripe event applied: older events change nothing.
    last_event_created = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["organization"], name="subscription_one_per_org"),
        ]
        indexes = [
            models.Index(fields=["stripe_subscription_id"], name="subscription_stripe_sub_idx"),
            models.Index(fields=["stripe_customer_id"], name="subscription_stripe_cus_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.organization.name}: {self.plan_code} ({self.status})"


class SubscriptionEvent(TenantModel):
    """The subscription audit: what each applied (or ignored) Stripe event did."""

    append_only = True

    action = models.CharField(max_length=60)
    stripe_event_id = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["organization", "-created_at"], name="subevent_org_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.stripe_event_id}"


class StripeEvent(models.Model):
    """The webhook inbox (global, service role only): one row per Stripe event id."""

    class Status(models.TextChoices):
        PROCESSING = "processing"  # only ever seen inside the receiving transaction
        PROCESSED = "processed"
        IGNORED = "ignored"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField(help_text="The event's own `created` time at Stripe.")
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices)
    attempts = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Stripe event"
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class Invoice(TenantModel):
    """Mirrored from Stripe (amounts in minor units)."""

    stripe_invoice_id = models.CharField(max_length=255)
    number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=30)
    currency = models.CharField(max_length=3)
    amount_due = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    amount_remaining = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True)
    invoice_pdf = models.URLField(max_length=1000, blank=True)
    stripe_created = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "stripe_invoice_id"], name="invoice_stripe_id_per_org"
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at", "-id"], name="invoice_idx")]

    def __str__(self) -> str:
        return self.number or self.stripe_invoice_id


class UsageCounter(TenantModel):
    """Monthly use of a metered metric (``period_start``: first day of the UTC month)."""

    metric = models.CharField(max_length=30)
    period_start = models.DateField()
    used = models.BigIntegerField(default=0)
    # Highest `used` reported to a Stripe meter (cumulative; the meter aggregates `last`).
    reported = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "metric", "period_start"], name="usage_counter_unique"
            ),
            models.CheckConstraint(condition=models.Q(used__gte=0), name="usage_used_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.period_start}: {self.used}"


class QuotaOverride(TenantModel):
    """A staff-granted limit for one metric, with a reason and an expiry (``NULL`` limit:
    unlimited)."""

    metric = models.CharField(max_length=30)
    limit = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=500)
    expires_at = models.DateTimeField()
    granted_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "metric"], name="quota_override_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="quota_override_needs_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric}: {self.limit} until {self.expires_at:%Y-%m-%d}"


class CostEstimate(TenantModel):
    """One run of :func:`billing.costs.calculate_total_cost` (insert-only)."""

    append_only = True

    title = models.CharField(max_length=200, blank=True)
    inputs = models.JSONField()
    line_items = models.JSONField()
    total = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    formula_version = models.CharField(max_length=20)
    # Nulled by the database when the user is deleted (0002_rls): the runtime roles
    # have no UPDATE on this insert-only table.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="costestimate_idx"),
            models.Index(fields=["organization", "author"], name="costestimate_author_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.total} {self.currency}"
