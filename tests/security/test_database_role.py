"""The runtime role the whole suite uses is the production one, and it is limited."""

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from organizations.rls.checks import guarded_tables
from organizations.tenancy import connection_role_facts
from tests.admin.support import staff_client
from tests.helpers import make_user

pytestmark = pytest.mark.django_db


def test_suite_connects_as_the_app_role_that_cannot_bypass_rls():
    facts = connection_role_facts()
    assert facts == {
        "role": settings.DB_APP_ROLE,
        "superuser": False,
        "bypassrls": False,
        "owned_relations": 0,
    }


def test_app_role_has_a_statement_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == settings.DB_STATEMENT_TIMEOUT


def test_app_role_cannot_update_delete_or_truncate_the_audit_table():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(session_user, 'audit_auditevent', p)"
            " FROM unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'INSERT', 'SELECT']) p"
        )
        assert [row[0] for row in cursor.fetchall()] == [False, False, False, True, True]


def test_every_guarded_table_has_rls_enabled_and_forced():
    tables = guarded_tables()
    assert {"organizations_organization", "organizations_membership", "audit_auditevent"} <= set(
        tables
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s)"
            " AND relrowsecurity AND relforcerowsecurity",
            [tables],
        )
        assert sorted(r[0] for r in cursor.fetchall()) == sorted(tables)


def test_health_reports_the_login_role_and_the_service_role_it_may_become(db):
    """Issue 10, finding 9: the health check no longer says the process cannot bypass RLS.

    The login role is subject to RLS, but may SET ROLE to the service role, which
    bypasses it; the answer names both (expected values from the settings), to staff.
    """
    response = staff_client(make_user("ops@example.test", is_staff=True)).get("/api/v1/health/")
    assert response.status_code == 200
    role = response.json()["database_role"]
    assert role["login"] == settings.DB_APP_ROLE
    assert role["bypasses_rls"] is False
    assert {"role": settings.DB_SERVICE_ROLE, "superuser": False, "bypasses_rls": True} in role[
        "may_set_role"
    ]


@pytest.mark.parametrize("who", ["anonymous", "tenant user"])
def test_health_names_no_role_to_anyone_but_staff(personas, who):
    client = Client()
    if who == "tenant user":
        client.force_login(personas.users["owner"])
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert settings.DB_APP_ROLE not in response.content.decode()


def test_the_login_role_really_can_switch_to_the_service_role():
    """What the health check reports is what the database allows (the trust model's limit)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {settings.DB_SERVICE_ROLE}")
        cursor.execute("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone()[0] is True


# Hand-kept (issues 2 and 3): the audit trail, file revisions and snapshots are history
# that nobody at runtime may rewrite. Not read from the models' ``append_only`` flag: a
# flag deleted by mistake makes ``migrate`` grant UPDATE/DELETE, and rls_check, which
# compares grants with flags, would then find them in agreement.
APPEND_ONLY_TABLES = [
    "audit_auditevent",
    "projects_filerevision",
    "projects_snapshot",
    "projects_snapshotentry",
]


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_neither_runtime_role_may_change_an_append_only_table(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolname FROM pg_roles r WHERE r.rolname = ANY(%s)"
            " AND (has_table_privilege(r.oid, %s, 'UPDATE')"
            "      OR has_table_privilege(r.oid, %s, 'DELETE')"
            "      OR has_table_privilege(r.oid, %s, 'TRUNCATE'))",
            [[settings.DB_APP_ROLE, settings.DB_SERVICE_ROLE], table, table, table],
        )
        assert cursor.fetchall() == []
