"""``citus_check`` on the single node: the migrated schema fits the cluster (with the
known, recorded pending shapes of ADR 0013), and each rule catches a planted violation.

The scratch objects are made through the owner connection inside the test's
transaction and checked on that same connection (the rules read only the
catalogs), so they vanish with the rollback.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connections

from organizations.rls.citus import run_citus_checks, unwrap_claim_subselects

pytestmark = pytest.mark.django_db(databases=["default", "owner"])

SCRATCH = [
    "CREATE TABLE scratch_parent (organization_id uuid NOT NULL, id uuid NOT NULL,"
    " PRIMARY KEY (organization_id, id))",
    # Unique without the organization, and a foreign key pairing the wrong columns.
    "CREATE TABLE scratch_tenant (id uuid PRIMARY KEY, organization_id uuid NOT NULL,"
    " code text, parent_id uuid,"
    " CONSTRAINT scratch_code_unique UNIQUE (code),"
    " CONSTRAINT scratch_mispaired FOREIGN KEY (parent_id, organization_id)"
    " REFERENCES scratch_parent (organization_id, id))",
    # A global table (no organization_id) pointing into a tenant table.
    "CREATE TABLE scratch_global (id int PRIMARY KEY, org uuid, parent uuid,"
    " CONSTRAINT scratch_into_tenant FOREIGN KEY (org, parent)"
    " REFERENCES scratch_parent (organization_id, id))",
    "CREATE TABLE scratch_nullable (id uuid, organization_id uuid)",
    # A policy with a real sub-select, and a policy function that reads a table.
    "CREATE POLICY scratch_subselect ON scratch_tenant USING (organization_id IN"
    " (SELECT m.organization_id FROM organizations_membership m))",
    "CREATE FUNCTION app.scratch_reader() RETURNS uuid LANGUAGE plpgsql STABLE"
    " SET search_path = pg_catalog, public, pg_temp"
    " AS $$ BEGIN RETURN (SELECT max(p.id) FROM scratch_parent p); END $$",
    "CREATE POLICY scratch_reads ON scratch_parent USING (organization_id = app.scratch_reader())",
    # The single-node shape (a claim helper in a sub-select): pending, not a problem.
    "CREATE POLICY scratch_claim ON scratch_parent FOR INSERT"
    " WITH CHECK (organization_id = (SELECT app.current_org_id()))",
]


def test_the_migrated_schema_fits_a_cluster_but_for_the_recorded_pending_shapes():
    report = run_citus_checks()
    assert report.problems == []
    assert {p.code for p in report.pending} <= {
        "policy_claim_subselect",
        "policy_function_membership",
        "primary_key_without_distribution_column",
        "global_unique",
        "distribution_column_nullable",
        "foreign_key_set_null",
    }
    call_command("citus_check")


def test_citus_check_catches_each_planted_violation():
    with connections["owner"].cursor() as cursor:
        for statement in SCRATCH:
            cursor.execute(statement)
    report = run_citus_checks(using="owner")
    found = {(p.code, p.obj) for p in report.problems}
    assert found == {
        ("unique_without_distribution_column", "scratch_tenant.scratch_code_unique"),
        ("foreign_key_without_distribution_column", "scratch_tenant.scratch_mispaired"),
        ("reference_to_distributed", "scratch_global.scratch_into_tenant"),
        ("distribution_column_nullable", "scratch_nullable.organization_id"),
        ("policy_subselect", "scratch_tenant.scratch_subselect"),
        ("policy_function_not_table_free", "app.scratch_reader()"),
    }
    pending = {(p.code, p.obj) for p in report.pending}
    assert ("policy_claim_subselect", "scratch_parent.scratch_claim") in pending
    assert ("primary_key_without_distribution_column", "scratch_tenant.scratch_tenant_pkey") in (
        pending
    )


def test_the_cluster_form_of_a_policy_unwraps_only_claim_helper_calls():
    single_node = (
        "((organization_id = ( SELECT app.current_org_id() AS current_org_id))"
        " AND ( SELECT app.has_role('{owner,admin}'::text[]) AS has_role))"
    )
    assert unwrap_claim_subselects(single_node) == (
        "((organization_id = app.current_org_id()) AND app.has_role('{owner,admin}'::text[]))"
    )
    other = "(organization_id IN ( SELECT m.organization_id FROM organizations_membership m))"
    assert unwrap_claim_subselects(other) == other
