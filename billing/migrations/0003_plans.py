"""Seed the plan catalog and give every existing organization its free subscription row."""

from django.db import migrations

from billing.plans import CATALOG


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
