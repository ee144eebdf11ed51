"""``rls_check``'s lints fire on a hand-made bad object, and pass on the migrated schema.

Each test makes one bad object through the owner connection (committed, so
the runtime-role connection ``run_checks`` uses can see it), asserts the lint
names it, and removes it again. The lints themselves read only the catalogs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connections

from organizations.rls.checks import run_checks

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])

RUNTIME = f"{settings.DB_APP_ROLE}, {settings.DB_SERVICE_ROLE}"


@contextmanager
def _owner_sql(make: list[str], undo: list[str]) -> Iterator[None]:
    with connections["owner"].cursor() as cursor:
        for statement in make:
            cursor.execute(statement)
    try:
        yield
    finally:
        with connections["owner"].cursor() as cursor:
            for statement in undo:
                cursor.execute(statement)


def _found() -> set[tuple[str, str]]:
    return {(p.code, p.obj) for p in run_checks()}


def test_the_migrated_schema_passes_every_lint():
    assert run_checks() == []


def test_rls_check_fails_on_a_definer_without_pg_temp_last():
    with _owner_sql(
        [
            "CREATE FUNCTION app.rogue_definer() RETURNS bigint LANGUAGE sql STABLE"
            " SECURITY DEFINER SET search_path = pg_catalog, public"
            " AS 'SELECT count(*) FROM organizations_membership'",
            "REVOKE ALL ON FUNCTION app.rogue_definer() FROM PUBLIC",
            "CREATE FUNCTION app.rogue_temp_first() RETURNS int LANGUAGE sql"
            " SECURITY DEFINER SET search_path = pg_temp, pg_catalog, public AS 'SELECT 1'",
            "REVOKE ALL ON FUNCTION app.rogue_temp_first() FROM PUBLIC",
            "CREATE FUNCTION app.good_definer() RETURNS int LANGUAGE sql"
            " SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS 'SELECT 1'",
            "REVOKE ALL ON FUNCTION app.good_definer() FROM PUBLIC",
            "CREATE FUNCTION app.good_empty() RETURNS int LANGUAGE sql"
            " SECURITY DEFINER SET search_path = '' AS 'SELECT 1'",
            "REVOKE ALL ON FUNCTION app.good_empty() FROM PUBLIC",
        ],
        [
            "DROP FUNCTION app.rogue_definer()",
            "DROP FUNCTION app.rogue_temp_first()",
            "DROP FUNCTION app.good_definer()",
            "DROP FUNCTION app.good_empty()",
        ],
    ):
        found = _found()
    assert ("definer_search_path_temp", "app.rogue_definer()") in found
    assert ("definer_search_path_temp", "app.rogue_temp_first()") in found
    assert not {obj for _, obj in found} & {"app.good_definer()", "app.good_empty()"}, found


def test_rls_check_fails_on_a_function_without_a_fixed_search_path():
    with _owner_sql(
        [
            "CREATE FUNCTION app.rogue_invoker(x text) RETURNS text LANGUAGE sql STABLE"
            " AS 'SELECT x'",
            "CREATE FUNCTION public.rogue_trigger() RETURNS trigger LANGUAGE plpgsql"
            " AS 'BEGIN RETURN NEW; END'",
            "CREATE FUNCTION app.rogue_implicit_temp() RETURNS int LANGUAGE sql"
            " SET search_path = pg_catalog AS 'SELECT 1'",
        ],
        [
            "DROP FUNCTION app.rogue_invoker(text)",
            "DROP FUNCTION public.rogue_trigger()",
            "DROP FUNCTION app.rogue_implicit_temp()",
        ],
    ):
        found = _found()
    assert ("function_search_path_mutable", "app.rogue_invoker(text)") in found
    assert ("function_search_path_mutable", "rogue_trigger()") in found
    assert ("function_search_path_temp", "app.rogue_implicit_temp()") in found


def test_rls_check_fails_on_a_duplicate_index():
    with _owner_sql(
        [
            "CREATE TABLE rogue_indexed (id int PRIMARY KEY, organization_id uuid, name text)",
            "GRANT SELECT ON rogue_indexed TO PUBLIC",
            "CREATE INDEX rogue_a ON rogue_indexed (organization_id, name)",
            "CREATE INDEX rogue_b ON rogue_indexed (organization_id, name)",
            # Not duplicates: other order, other predicate, an expression.
            "CREATE INDEX rogue_c ON rogue_indexed (name, organization_id)",
            "CREATE INDEX rogue_d ON rogue_indexed (organization_id, name) WHERE name <> ''",
            "CREATE INDEX rogue_e ON rogue_indexed (organization_id, lower(name))",
            "CREATE INDEX rogue_f ON rogue_indexed (organization_id, lower(name))",
        ],
        ["DROP TABLE rogue_indexed"],
    ):
        problems = [p for p in run_checks() if p.code == "duplicate_index"]
    assert {(p.obj, p.message) for p in problems} == {
        ("rogue_indexed", "identical indexes: rogue_a, rogue_b"),
        ("rogue_indexed", "identical indexes: rogue_e, rogue_f"),
    }


def test_rls_check_fails_on_a_tenant_policy_admitting_any_of_my_orgs():
    any_org = "organization_id = ANY ((SELECT app.user_org_ids())::uuid[])"
    current = "organization_id = (SELECT app.current_org_id())"
    with _owner_sql(
        [
            "CREATE TABLE rogue_notes (id int PRIMARY KEY, organization_id uuid)",
            "GRANT SELECT ON rogue_notes TO PUBLIC",
            "ALTER TABLE rogue_notes ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE rogue_notes FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY notes_select ON rogue_notes FOR SELECT USING ({any_org})",
            f"CREATE POLICY notes_update ON rogue_notes FOR UPDATE USING ({current})"
            f" WITH CHECK ({any_org})",
            f"CREATE POLICY notes_insert ON rogue_notes FOR INSERT WITH CHECK ({current})",
        ],
        ["DROP TABLE rogue_notes"],
    ):
        found = _found()
    assert ("policy_any_org", "rogue_notes.notes_select") in found
    assert ("policy_any_org", "rogue_notes.notes_update") in found
    assert ("policy_any_org", "rogue_notes.notes_insert") not in found
    # The two tables allowed to list "my organizations" do so today and pass.
    assert ("policy_any_org", "organizations_membership.membership_select") not in found
    assert not {obj for code, obj in found if code == "policy_any_org"} - {
        "rogue_notes.notes_select",
        "rogue_notes.notes_update",
    }


def test_rls_check_reads_append_only_from_the_grants():
    """A grant that lets a runtime role change an append-only table fails, whatever the model."""
    with _owner_sql(
        [f"GRANT UPDATE ON audit_auditevent TO {settings.DB_SERVICE_ROLE}"],
        [f"REVOKE UPDATE ON audit_auditevent FROM {settings.DB_SERVICE_ROLE}"],
    ):
        found = {(p.code, p.obj, p.message) for p in run_checks()}
    assert (
        "append_only_writable",
        "audit_auditevent",
        f"{settings.DB_SERVICE_ROLE} may UPDATE or DELETE it",
    ) in found


def test_rls_check_fails_when_grants_and_the_model_flag_disagree():
    """No UPDATE/DELETE for the runtime roles on a table whose model is not append-only."""
    with _owner_sql(
        [f"REVOKE UPDATE, DELETE ON projects_job FROM {RUNTIME}"],
        [f"GRANT UPDATE, DELETE ON projects_job TO {RUNTIME}"],
    ):
        found = _found()
    assert ("append_only_mismatch", "projects_job") in found


def test_rls_check_fails_when_the_model_flag_is_set_but_the_database_disagrees(monkeypatch):
    from projects.models import Job

    monkeypatch.setattr(Job, "append_only", True, raising=False)
    found = _found()
    assert ("append_only_writable", "projects_job") in found


def test_rls_check_allows_any_of_my_orgs_on_memberships_only_for_reading():
    any_org = "organization_id = ANY ((SELECT app.user_org_ids())::uuid[])"
    with _owner_sql(
        [
            "CREATE POLICY rogue_move ON organizations_membership FOR UPDATE"
            f" USING (organization_id = (SELECT app.current_org_id())) WITH CHECK ({any_org})"
        ],
        ["DROP POLICY rogue_move ON organizations_membership"],
    ):
        found = _found()
    assert ("policy_any_org", "organizations_membership.rogue_move") in found
