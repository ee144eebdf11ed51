"""Raw SQL as the app role: usage counters are written only through
``app.billing_usage_add`` (billing/migrations/0004), never by a plain INSERT or
UPDATE — with or without claims, whatever the member's role (issue 17 §5)."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from billing.models import UsageCounter
from billing.quotas import period_start
from organizations.tenancy import enter_org, service_context

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "member", "viewer", "billing"]


@pytest.fixture
def counters(personas):
    """A counter of ai_tokens at 100 in acme and in globex."""
    with service_context(reason="test fixture: counters"):
        for org in (personas.org, personas.other_org):
            UsageCounter.objects.update_or_create(
                organization_id=org.id,
                metric="ai_tokens",
                period_start=period_start(),
                defaults={"used": 100, "reported": 0},
            )
    return personas


def _used(org) -> int:
    with service_context(reason="test read"):
        return UsageCounter.objects.get(organization_id=org.id, metric="ai_tokens").used


def _writes(org_id, other_org_id) -> list[tuple[str, list]]:
    period = period_start()
    insert = (
        "INSERT INTO billing_usagecounter (id, organization_id, metric, period_start, used,"
        " reported, created_at, updated_at) VALUES (%s, %s, %s, %s, 0, 0, now(), now())"
    )
    return [
        ("UPDATE billing_usagecounter SET used = 0", []),
        ("UPDATE billing_usagecounter SET reported = used", []),
        ("DELETE FROM billing_usagecounter", []),
        (insert, [uuid.uuid4(), org_id, "api_calls", period]),
        (insert, [uuid.uuid4(), other_org_id, "api_calls", period]),
        (
            insert + " ON CONFLICT (organization_id, metric, period_start) DO UPDATE SET used = 0",
            [uuid.uuid4(), org_id, "ai_tokens", period],
        ),
    ]


def _refused(cursor, statement: str, params: list) -> None:
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        cursor.execute(statement, params)


@pytest.mark.parametrize("persona", ROLES)
def test_no_member_writes_a_usage_counter_in_plain_sql(counters, persona):
    personas = counters
    with transaction.atomic(), connection.cursor() as cursor:
        assert enter_org(personas.user(persona).id, "acme").role == persona
        cursor.execute("SELECT used FROM billing_usagecounter WHERE metric = 'ai_tokens'")
        assert cursor.fetchall() == [(100,)]  # reading stays every member's
        for statement, params in _writes(personas.org.id, personas.other_org.id):
            _refused(cursor, statement, params)
    assert (_used(personas.org), _used(personas.other_org)) == (100, 100)


def test_without_claims_no_usage_counter_is_written_in_plain_sql(counters):
    personas = counters
    with transaction.atomic(), connection.cursor() as cursor:
        for statement, params in _writes(personas.org.id, personas.other_org.id):
            _refused(cursor, statement, params)
    assert (_used(personas.org), _used(personas.other_org)) == (100, 100)


def test_the_app_role_holds_no_write_privilege_and_no_write_policy_on_the_counters():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%s, 'billing_usagecounter', 'INSERT'),"
            " has_table_privilege(%s, 'billing_usagecounter', 'UPDATE'),"
            " has_table_privilege(%s, 'billing_usagecounter', 'DELETE'),"
            " has_table_privilege(%s, 'billing_usagecounter', 'SELECT')",
            [settings.DB_APP_ROLE] * 4,
        )
        assert cursor.fetchone() == (False, False, False, True)
        cursor.execute(
            "SELECT cmd FROM pg_policies WHERE tablename = 'billing_usagecounter' ORDER BY cmd"
        )
        assert [cmd for (cmd,) in cursor.fetchall()] == ["SELECT"]


def _add(cursor, org_id, amount, delta, limit=None, metric="ai_tokens"):
    cursor.execute(
        "SELECT used FROM app.billing_usage_add(%s, %s, %s, %s, %s, %s)",
        [org_id, metric, period_start(), amount, delta, limit],
    )
    return cursor.fetchall()


def test_the_definer_adds_to_the_claimed_organizations_counter_only(counters):
    personas = counters
    with transaction.atomic(), connection.cursor() as cursor:
        enter_org(personas.user("viewer").id, "acme")
        assert _add(cursor, personas.org.id, 5, 5) == [(105,)]
        assert _add(cursor, personas.org.id, 5, 5, limit=106) == [(None,)]  # over the limit
        assert _add(cursor, personas.other_org.id, 5, 5) == []  # not theirs: no answer
        with pytest.raises(DatabaseError, match="not a metered metric"), transaction.atomic():
            _add(cursor, personas.org.id, 5, 5, metric="projects")
        with pytest.raises(DatabaseError, match="not a metered metric"), transaction.atomic():
            _add(cursor, personas.org.id, -5, -5)
    assert (_used(personas.org), _used(personas.other_org)) == (105, 100)


def test_the_definer_answers_nothing_without_claims(counters):
    personas = counters
    with transaction.atomic(), connection.cursor() as cursor:
        assert _add(cursor, personas.org.id, 5, 5) == []
    assert _used(personas.org) == 100
