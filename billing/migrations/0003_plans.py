"""Seed the plan catalog (defaults; staff edit them in the admin) and give every
existing organization its free subscription row."""

from django.db import migrations

# The catalog as it was when this migration was written (frozen with the history).
CATALOG = {
    "free": {
        "name": "Free",
        "sort_order": 0,
        "monthly_price_cents": 0,
        "projects": 10,
        "sites": 1,
        "members": 10,
        "api_calls": 10000,
        "ai_tokens": 100000,
        "storage_bytes": 1073741824,
        "deployments": 20,
        "webhook_endpoints": 1,
        "features": {"custom_domains": False, "priority_support": False},
    },
    "pro": {
        "name": "Pro",
        "sort_order": 1,
        "monthly_price_cents": 2000,
        "projects": 100,
        "sites": 10,
        "members": 25,
        "api_calls": 250000,
        "ai_tokens": 2000000,
        "storage_bytes": 53687091200,
        "deployments": 500,
        "webhook_endpoints": 10,
        "features": {"custom_domains": True, "priority_support": False},
    },
    "studio": {
        "name": "Studio",
        "sort_order": 2,
        "monthly_price_cents": 8000,
        "projects": 1000,
        "sites": 50,
        "members": 100,
        "api_calls": 2000000,
        "ai_tokens": 20000000,
        "storage_bytes": 536870912000,
        "deployments": 5000,
        "webhook_endpoints": 50,
        "features": {"custom_domains": True, "priority_support": True},
    },
    "enterprise": {
        "name": "Enterprise",
        "sort_order": 3,
        "monthly_price_cents": 0,
        "projects": None,
        "sites": None,
        "members": None,
        "api_calls": None,
        "ai_tokens": None,
        "storage_bytes": None,
        "deployments": None,
        "webhook_endpoints": None,
        "features": {"custom_domains": True, "priority_support": True, "sso": True},
    },
}


def forward(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for code, fields in CATALOG.items():
        Plan.objects.get_or_create(code=code, defaults=fields)
    schema_editor.execute(
        "INSERT INTO billing_subscription (id, organization_id, plan_code, status,"
        " stripe_customer_id, stripe_subscription_id, stripe_price_id, cancel_at_period_end,"
        " created_at, updated_at)"
        " SELECT gen_random_uuid(), o.id, 'free', 'active', '', '', '', false, now(), now()"
        " FROM organizations_organization o ON CONFLICT (organization_id) DO NOTHING"
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_rls")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
