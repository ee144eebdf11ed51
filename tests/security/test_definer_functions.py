"""SECURITY DEFINER helpers cannot be fooled by the caller's temporary tables.

A runtime-role session may create temporary tables (it has TEMPORARY on the
database). PostgreSQL searches ``pg_temp`` *first* for tables unless the
function's ``search_path`` lists it, so a definer pinned to ``pg_catalog,
public`` would read the caller's ``pg_temp.organizations_membership`` instead
of the real one. Each test plants such a table, as the runtime role, and
shows the helpers still answer from the real tables (issue 10, finding 4).
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction

from audit.services import audit_record
from organizations.tenancy import enter_org, service_context
from tests.helpers import Personas
from tests.projects.makers_workspace import workspace

pytestmark = pytest.mark.django_db


def _claim(cursor, user_id: uuid.UUID, org_id: uuid.UUID) -> None:
    cursor.execute(
        "SELECT set_config('app.user_id', %s, true), set_config('app.org_id', %s, true)",
        [str(user_id), str(org_id)],
    )


def _plant_membership(cursor, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """A temporary ``organizations_membership`` saying ``user_id`` owns ``org_id``."""
    cursor.execute(
        "CREATE TEMP TABLE organizations_membership"
        " (organization_id uuid, user_id uuid, role text) ON COMMIT DROP"
    )
    cursor.execute(
        "INSERT INTO organizations_membership VALUES (%s, %s, 'owner')",
        [str(org_id), str(user_id)],
    )


def test_the_runtime_role_may_create_temporary_tables(personas: Personas):
    """The premise of the attack: without it the other tests would prove nothing."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT has_database_privilege(current_database(), 'TEMPORARY')")
        assert cursor.fetchone()[0] is True
        cursor.execute("SELECT current_user, session_user")
        assert set(cursor.fetchone()) == {connection.settings_dict["USER"]}


def test_a_temporary_membership_table_does_not_let_an_outsider_enter_an_org(personas):
    outsider = personas.user("outsider")
    with transaction.atomic(), connection.cursor() as cursor:
        _plant_membership(cursor, personas.org.id, outsider.id)
        cursor.execute("SELECT count(*) FROM organizations_membership")
        assert cursor.fetchone()[0] == 1  # the caller itself does see its own table
        cursor.execute("SELECT * FROM app.enter_org(%s::uuid, 'acme')", [str(outsider.id)])
        assert cursor.fetchall() == []
        _claim(cursor, outsider.id, personas.org.id)
        cursor.execute(
            "SELECT app.current_org_id(), app.current_role(), app.has_role('{owner}'),"
            " %s::uuid = ANY (app.user_org_ids())",
            [str(personas.org.id)],
        )
        assert cursor.fetchone() == (None, None, False, False)
        cursor.execute(
            "SELECT count(*) FROM public.organizations_membership WHERE organization_id = %s",
            [str(personas.org.id)],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "UPDATE organizations_organization SET name = 'pwned' WHERE id = %s",
            [str(personas.org.id)],
        )
        assert cursor.rowcount == 0


def test_temporary_project_tables_do_not_widen_a_viewers_rights(personas):
    """``readonly_project_ids``/``hidden_project_ids`` read projects by unqualified name."""
    project = workspace(personas)["project"]
    viewer = personas.user("viewer")
    with transaction.atomic(), connection.cursor() as cursor:
        assert enter_org(viewer.id, "acme").role == "viewer"
        for table in ("projects_project", "projects_projectmember"):
            cursor.execute(f"CREATE TEMP TABLE {table} (LIKE public.{table}) ON COMMIT DROP")
        cursor.execute("SELECT %s::uuid = ANY (app.readonly_project_ids())", [str(project.id)])
        assert cursor.fetchone()[0] is True
        cursor.execute(
            "UPDATE public.projects_project SET description = 'pwned' WHERE id = %s",
            [str(project.id)],
        )
        assert cursor.rowcount == 0
        cursor.execute("SELECT count(*) FROM app.search_projects('matrix'::tsquery, 10)")
        assert cursor.fetchone()[0] == 1  # found in the real table, not the empty temp one


def test_a_temporary_audit_table_does_not_bend_the_chain(personas):
    """The chain trigger reads the tail of ``audit_auditevent`` by unqualified name."""
    owner = personas.user("owner")
    with transaction.atomic(), connection.cursor() as cursor:
        assert enter_org(owner.id, "acme") is not None
        first = audit_record(action="test.first", actor=owner, organization_id=personas.org.id)
        cursor.execute(
            "CREATE TEMP TABLE audit_auditevent (LIKE public.audit_auditevent) ON COMMIT DROP"
        )
        cursor.execute(
            "INSERT INTO audit_auditevent SELECT * FROM public.audit_auditevent WHERE id = %s",
            [str(first.id)],
        )
        cursor.execute("UPDATE audit_auditevent SET sequence = 1000, hash = 'forged'")
        # Schema-qualified: Django's unqualified INSERT would land in the temp table.
        cursor.execute(
            "INSERT INTO public.audit_auditevent (id, sequence, action, actor_type, actor_label,"
            " target_type, target_id, changes, user_agent, request_id, created_at, prev_hash,"
            " hash, actor_id, organization_id) VALUES (gen_random_uuid(), 0, 'test.second',"
            " 'user', '', '', '', '{}', '', '', now(), '', '', %s, %s)"
            " RETURNING sequence, prev_hash",
            [str(owner.id), str(personas.org.id)],
        )
        sequence, prev_hash = cursor.fetchone()
        cursor.execute(
            "SELECT sequence, hash FROM public.audit_auditevent WHERE id = %s", [str(first.id)]
        )
        first_sequence, first_hash = cursor.fetchone()
    assert (sequence, prev_hash) == (first_sequence + 1, first_hash)


def test_the_chain_trigger_and_app_audit_hash_agree(personas):
    """The trigger writes ``app.audit_hash``'s expression inline (audit 0004): same hash."""
    owner = personas.user("owner")
    with transaction.atomic():
        assert enter_org(owner.id, "acme") is not None
        event = audit_record(
            action="test.every_field",
            actor=owner,
            organization_id=personas.org.id,
            target_type="test.thing",
            target_id="42",
            changes={"name": ["a", "b"], "nested": {"x": 1}},
        )
    with service_context(reason="test: read the hash"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.hash, app.audit_hash(e), e.actor_id IS NOT NULL, e.changes <> '{}'"
            " FROM audit_auditevent e WHERE e.id = %s",
            [str(event.id)],
        )
        stored, recomputed, has_actor, has_changes = cursor.fetchone()
    assert has_actor and has_changes
    assert stored == recomputed
