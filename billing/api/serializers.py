"""Request and response shapes of the billing API."""

from __future__ import annotations

from rest_framework import serializers

from billing.models import METRICS, CostEstimate, Invoice
from billing.plans import CATALOG
from config.api.serializers import InputSerializer


def _metric_map(help_text: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.IntegerField(allow_null=True), help_text=help_text
    )


class PlanSerializer(serializers.Serializer):
    """A plan of the public catalog."""

    code = serializers.CharField(help_text="What `billing/checkout/` takes as `plan`.")
    name = serializers.CharField()
    monthly_price_cents = serializers.IntegerField(
        help_text="Monthly price in cents (display only; Stripe's price is charged); 0: free "
        "or on request."
    )
    limits = _metric_map(f"Limit per metric ({', '.join(METRICS)}); null: unlimited.")
    features = serializers.DictField(child=serializers.BooleanField())
    purchasable = serializers.BooleanField(
        help_text="Checkout sells this plan on this installation (a Stripe price is set)."
    )


class PlanCatalogSerializer(serializers.Serializer):
    results = PlanSerializer(many=True)


class UsageSerializer(serializers.Serializer):
    plan = serializers.CharField(help_text="The plan in force (its code).")
    limits = _metric_map(f"Limit per metric ({', '.join(METRICS)}); null: unlimited.")
    usage = _metric_map("Use per metric: counted now, or this calendar month (UTC).")
    period_start = serializers.DateField(help_text="Start of the month metered usage counts.")


class BillingSerializer(UsageSerializer):
    subscribed_plan = serializers.CharField(help_text="The plan paid for (may differ from `plan`).")
    status = serializers.CharField(help_text="Stripe's subscription status.")
    current_period_start = serializers.DateTimeField(allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    trial_end = serializers.DateTimeField(allow_null=True)
    grace_until = serializers.DateTimeField(
        allow_null=True, help_text="past_due: the plan stays in force until then."
    )
    billing_configured = serializers.BooleanField(help_text="Whether checkout is available.")


class InvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = [
            "id",
            "stripe_invoice_id",
            "number",
            "status",
            "currency",
            "amount_due",
            "amount_paid",
            "amount_remaining",
            "total",
            "period_start",
            "period_end",
            "hosted_invoice_url",
            "invoice_pdf",
            "stripe_created",
            "created_at",
        ]
        read_only_fields = fields


class CheckoutSerializer(InputSerializer):
    plan = serializers.ChoiceField(choices=[code for code in CATALOG if code != "free"])


class StripeSessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.URLField()


class CostItemSerializer(InputSerializer):
    description = serializers.CharField(max_length=200, allow_blank=True, default="")
    quantity = serializers.DecimalField(max_digits=14, decimal_places=4, min_value=0)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=4, min_value=0)


class CostEstimateCreateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200, allow_blank=True, default="")
    items = CostItemSerializer(many=True, allow_empty=False, max_length=100)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", default="USD")
    discount_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, default=0
    )
    tax_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, default=0
    )


class CostEstimateSerializer(serializers.ModelSerializer):
    author = serializers.UUIDField(source="author_id", read_only=True, allow_null=True)

    class Meta:
        model = CostEstimate
        fields = [
            "id",
            "title",
            "inputs",
            "line_items",
            "total",
            "currency",
            "formula_version",
            "author",
            "created_at",
        ]
        read_only_fields = fields
