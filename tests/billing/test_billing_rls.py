"""Raw SQL as the app role: Stripe's mirror is written only by the service role."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from billing.models import CostEstimate, Subscription
from organizations.tenancy import enter_org, service_context
from tests.billing.makers import fill_tables

pytestmark = pytest.mark.django_db


def _as(personas, persona: str):
    ctx = enter_org(personas.user(persona).id, "acme")
    assert ctx is not None and ctx.role == persona
    return ctx


@pytest.mark.parametrize("persona", ["owner", "admin", "billing"])
def test_no_role_can_insert_or_update_a_subscription_from_a_tenant_context(personas, persona):
    fill_tables(personas)
    with transaction.atomic(), connection.cursor() as cursor:
        _as(personas, persona)
        cursor.execute(
            "SELECT plan_code FROM billing_subscription WHERE organization_id = %s",
            [personas.org.id],
        )
        assert cursor.fetchall() == [("free",)]  # they may read it
        cursor.execute(
            "UPDATE billing_subscription SET plan_code = 'enterprise', status = 'active'"
            " WHERE organization_id = %s",
            [personas.org.id],
        )
        assert cursor.rowcount == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            cursor.execute(
                "INSERT INTO billing_subscription (id, organization_id, plan_code, status,"
                " stripe_customer_id, stripe_subscription_id, stripe_price_id,"
                " cancel_at_period_end, created_at, updated_at)"
                " VALUES (%s, %s, 'enterprise', 'active', '', '', '', false, now(), now())",
                [uuid.uuid4(), personas.other_org.id],
            )
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            cursor.execute("UPDATE billing_subscriptionevent SET details = '{}'")  # insert-only
        for table in ("billing_invoice", "billing_quotaoverride"):
            cursor.execute(f"UPDATE {table} SET created_at = now()")
            assert cursor.rowcount == 0, table
            cursor.execute(f"DELETE FROM {table}")
            assert cursor.rowcount == 0, table
    with service_context(reason="test read"):
        assert Subscription.objects.get(organization_id=personas.org.id).plan_code == "free"
        assert not Subscription.objects.filter(organization_id=personas.other_org.id).exists()


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_members_and_viewers_cannot_read_the_subscription_or_invoices(personas, persona):
    fill_tables(personas)
    with transaction.atomic(), connection.cursor() as cursor:
        _as(personas, persona)
        for table in ("billing_subscription", "billing_invoice", "billing_subscriptionevent"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == 0, table
        cursor.execute("SELECT count(*) FROM billing_usagecounter")
        assert cursor.fetchone()[0] == 1  # usage is every member's to see


def test_the_plan_catalog_is_readable_but_not_writable_by_the_app_role(personas, catalog):
    with transaction.atomic(), connection.cursor() as cursor:
        _as(personas, "owner")
        cursor.execute("SELECT count(*) FROM billing_plan")
        assert cursor.fetchone()[0] >= 4
        for statement in (
            "UPDATE billing_plan SET projects = NULL",
            "DELETE FROM billing_plan",
            "INSERT INTO billing_plan (id, code, name, sort_order, monthly_price_cents,"
            " features, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'x', 'x', 9, 0, '{}', now(), now())",
        ):
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                cursor.execute(statement)


def test_the_stripe_inbox_is_out_of_the_app_roles_reach(personas):
    with transaction.atomic(), connection.cursor() as cursor:
        _as(personas, "owner")
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            cursor.execute("SELECT count(*) FROM billing_stripeevent")


def test_cost_estimates_are_insert_only_and_a_member_sees_only_their_own(personas):
    fill_tables(personas)  # one estimate by the member, one by the owner
    with service_context(reason="test fixture"):
        CostEstimate.objects.create(
            organization_id=personas.org.id,
            inputs={},
            line_items=[],
            total=1,
            currency="USD",
            formula_version="t",
            author=personas.user("admin"),
        )
    with transaction.atomic(), connection.cursor() as cursor:
        _as(personas, "member")
        cursor.execute("SELECT author_id FROM billing_costestimate")
        assert cursor.fetchall() == [(personas.user("member").id,)]
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            cursor.execute(
                "INSERT INTO billing_costestimate (id, organization_id, title, inputs, line_items,"
                " total, currency, formula_version, author_id, created_at) VALUES"
                " (gen_random_uuid(), %s, '', '{}', '[]', 1, 'USD', 't', %s, now())",
                [personas.org.id, personas.user("admin").id],  # as someone else
            )
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            cursor.execute("UPDATE billing_costestimate SET total = 0")
    with transaction.atomic(), connection.cursor() as cursor:
        _as(personas, "admin")
        cursor.execute("SELECT count(*) FROM billing_costestimate")
        assert cursor.fetchone()[0] == 3  # the member's, the owner's and the admin's
