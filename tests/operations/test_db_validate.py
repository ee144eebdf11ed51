"""``db_validate``: each kind of damage a bulk load can leave behind is reported."""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from organizations import roles
from organizations.operations.pg import current_database
from organizations.operations.schema import Reference
from organizations.operations.validate import database_validate
from organizations.tenancy import clear_claims
from tests.operations.support import owner_connect


@pytest.fixture
def tenants(personas):
    # Building personas claims users inside the test's transaction; in production the
    # claim would end with its transaction, so drop it (rls_check counts what it admits).
    clear_claims()
    return personas


def _checks(report, severity="problem"):
    return {(f.check, f.obj) for f in report.findings if f.severity == severity}


@pytest.mark.django_db
def test_a_sound_database_passes_with_json_output(tenants, capsys):
    call_command("db_validate", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["problems"] == 0
    assert {"organizations_membership", "audit_auditevent"} <= {
        t["table"] for t in report["tables"]
    }


@pytest.mark.django_db(transaction=True)
def test_orphans_left_by_a_load_without_triggers_are_problems(tenants):
    # What `session_replication_role = replica` (pg_restore --disable-triggers, some
    # bulk loaders) allows: foreign keys are not checked.
    with roles.admin_connect(current_database()) as admin:
        admin.execute("SET session_replication_role = replica")
        admin.execute(
            "INSERT INTO organizations_membership (id, organization_id, user_id, role,"
            " created_at, updated_at) VALUES (%s, %s, %s, 'member', now(), now())",
            [uuid.uuid4(), uuid.uuid4(), tenants.user("viewer").id],
        )
    with pytest.raises(CommandError, match="problem"):
        call_command("db_validate")
    report = database_validate()
    assert any(
        check == "orphans" and obj.startswith("organizations_membership(organization_id)")
        for check, obj in _checks(report)
    )


@pytest.mark.django_db(transaction=True)  # ALTER TABLE must not wait on the test's locks
def test_not_valid_and_violated_check_constraints_are_problems(tenants):
    with owner_connect() as owner:
        owner.execute(
            "ALTER TABLE organizations_membership ADD CONSTRAINT test_no_billing"
            " CHECK (role <> 'billing') NOT VALID"
        )
    try:
        report = database_validate()
    finally:
        with owner_connect() as owner:
            owner.execute("ALTER TABLE organizations_membership DROP CONSTRAINT test_no_billing")
    found = _checks(report)
    assert ("not_validated", "organizations_membership.test_no_billing") in found
    assert ("check_violation", "organizations_membership.test_no_billing") in found


@pytest.mark.django_db(transaction=True)  # DROP TABLE must not wait on the test's locks
def test_rows_pointing_into_another_tenant_and_unguarded_tables_are_problems(tenants):
    runtime = f"{settings.DB_APP_ROLE}, {settings.DB_SERVICE_ROLE}"
    acme, globex = tenants.org.id, tenants.other_org.id
    parent, stray = uuid.uuid4(), uuid.uuid4()
    with owner_connect() as owner:
        owner.execute("CREATE TABLE ops_parent (id uuid PRIMARY KEY, organization_id uuid)")
        owner.execute(
            "CREATE TABLE ops_child (id uuid PRIMARY KEY, organization_id uuid, parent_id uuid)"
        )
        owner.execute(f"GRANT SELECT ON ops_parent, ops_child TO {runtime}")
        owner.execute("INSERT INTO ops_parent VALUES (%s, %s)", [parent, acme])
        owner.execute(
            "INSERT INTO ops_child VALUES (%s, %s, %s), (%s, %s, %s)",
            [uuid.uuid4(), globex, parent, uuid.uuid4(), acme, stray],
        )
    try:
        report = database_validate(
            extra_references=[Reference("ops_child", "parent_id", "ops_parent", "id")]
        )
    finally:
        with owner_connect() as owner:
            owner.execute("DROP TABLE ops_child, ops_parent")
    found = _checks(report)
    ref = "ops_child.parent_id -> ops_parent.id"
    assert ("cross_tenant", ref) in found
    assert ("orphans", ref) in found
    assert ("rls:rls_disabled", "ops_child") in found  # rls_check's verdict is included
    assert not report.ok


@pytest.mark.django_db(transaction=True)
def test_dangling_audit_references_after_an_erase_are_notes_not_problems(tenants):
    call_command("erase_org", "acme", "--noinput")
    report = database_validate()
    assert report.ok
    assert ("dangling", "audit_auditevent.organization_id -> organizations_organization.id") in (
        _checks(report, "note")
    )
