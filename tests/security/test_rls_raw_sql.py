"""Raw SQL as the app role: isolation holds below the ORM and the views."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from psycopg import sql

from organizations.rls.checks import guarded_tables, run_checks
from organizations.tenancy import clear_claims, enter_org, service_context
from tests.helpers import make_user
from tests.security.objects import fill_tenant_tables

pytestmark = pytest.mark.django_db


def _counts(tables: list[str]) -> dict[str, int]:
    out = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            out[table] = cursor.fetchone()[0]
    return out


def _tables_with_rows(personas) -> list[str]:
    """Guarded tables, after making sure each has rows for the checks to hide."""
    fill_tenant_tables(personas)
    # In production the request's transaction ends with it; here the test's
    # transaction outlives any request, so drop claims left behind.
    clear_claims()
    tables = guarded_tables()
    with service_context(reason="test: check every table has rows"):
        counts = _counts(tables)
    assert all(counts.values()), f"tables without rows cannot prove isolation: {counts}"
    return tables


def test_no_claim_sees_zero_rows_in_every_guarded_table(personas):
    tables = _tables_with_rows(personas)
    with transaction.atomic():
        assert set(_counts(tables).values()) == {0}


def test_empty_string_claims_see_zero_rows_in_every_guarded_table(personas):
    tables = _tables_with_rows(personas)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.user_id', '', true), set_config('app.org_id', '', true)"
        )
        assert set(_counts(tables).values()) == {0}


def test_a_non_members_claims_see_no_other_tenants_rows(personas):
    tables = _tables_with_rows(personas)
    loner = make_user("loner@example.test")
    with transaction.atomic():
        assert enter_org(loner.id, "acme") is None  # not a member: the org is not claimed
        counts = _counts(tables)
    assert counts.pop("accounts_usersettings") == 1  # their own settings, nobody else's
    assert set(counts.values()) == {0}, counts


def test_claiming_an_org_you_do_not_belong_to_by_hand_admits_nothing(personas):
    """Even a forged org claim is checked against memberships in SQL."""
    _tables_with_rows(personas)
    outsider = personas.user("outsider")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.user_id', %s, true), set_config('app.org_id', %s, true)",
            [str(outsider.id), str(personas.org.id)],
        )
        cursor.execute(
            "SELECT count(*) FROM organizations_membership WHERE organization_id = %s",
            [personas.org.id],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM audit_auditevent WHERE organization_id = %s", [personas.org.id]
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "UPDATE organizations_organization SET name = 'pwned' WHERE id = %s", [personas.org.id]
        )
        assert cursor.rowcount == 0


def test_viewer_cannot_write_through_raw_sql(personas):
    with transaction.atomic(), connection.cursor() as cursor:
        assert enter_org(personas.user("viewer").id, "acme").role == "viewer"
        cursor.execute(
            "UPDATE organizations_organization SET name = 'x' WHERE id = %s", [personas.org.id]
        )
        assert cursor.rowcount == 0
        cursor.execute(
            "DELETE FROM organizations_membership WHERE organization_id = %s AND user_id <> %s",
            [personas.org.id, personas.user("viewer").id],
        )
        assert cursor.rowcount == 0


def test_audit_rows_cannot_be_changed_even_by_the_service_role(personas):
    from django.db import DatabaseError

    with (
        pytest.raises(DatabaseError, match="permission denied"),
        service_context(reason="test"),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET action = 'forged'")


def test_rls_check_passes_on_the_migrated_schema():
    assert run_checks() == []
    call_command("rls_check")


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_rls_check_fails_on_a_table_without_a_policy():
    owner = connections["owner"]
    with owner.cursor() as cursor:
        cursor.execute("CREATE TABLE rogue_notes (id int PRIMARY KEY, organization_id uuid)")
        cursor.execute("GRANT SELECT ON rogue_notes TO PUBLIC")
    try:
        codes = {(p.code, p.obj) for p in run_checks()}
        assert ("rls_disabled", "rogue_notes") in codes
        assert ("no_policy", "rogue_notes") in codes
        with owner.cursor() as cursor:
            cursor.execute("ALTER TABLE rogue_notes ENABLE ROW LEVEL SECURITY")
            cursor.execute("ALTER TABLE rogue_notes FORCE ROW LEVEL SECURITY")
            cursor.execute("CREATE POLICY everything ON rogue_notes USING (true)")
        codes = {(p.code, p.obj) for p in run_checks()}
        assert ("policy_always_true", "rogue_notes.everything") in codes
        assert ("rls_disabled", "rogue_notes") not in codes
    finally:
        with owner.cursor() as cursor:
            cursor.execute("DROP TABLE rogue_notes")
