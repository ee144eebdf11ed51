"""Isolation on the workers, first slice (issue 20): every tenant table is distributed and
colocated, no claim sees no row of any of them, and a cross-tenant INSERT is refused by
the policy on the worker that holds the shard — through the coordinator and on the
shard itself.

Claims are set here as the coordinator's definer will set them on a cluster: ``SET
LOCAL`` (propagated to the workers), not ``set_config`` (which is not). ADR 0013.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.core.management import call_command
from psycopg import sql

from organizations.rls.citus import run_citus_checks

pytestmark = pytest.mark.django_db


def _seed(owner: psycopg.Connection) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A user who owns org A, and org B (someone else's); returns (user, A, B)."""
    user, org_a, org_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    owner.execute(
        "INSERT INTO accounts_user (id, password, is_superuser, email, name, avatar_url,"
        " is_staff, is_active, created_at, updated_at)"
        " VALUES (%s, '!', false, %s, 'Cluster', '', false, true, now(), now())",
        [user, f"{user}@cluster.test"],
    )
    for org in (org_a, org_b):
        owner.execute(
            "INSERT INTO organizations_organization (id, name, slug, created_at, updated_at)"
            " VALUES (%s, 'Org', %s, now(), now())",
            [org, f"org-{org}"],
        )
    other = uuid.uuid4()
    owner.execute(
        "INSERT INTO accounts_user (id, password, is_superuser, email, name, avatar_url,"
        " is_staff, is_active, created_at, updated_at)"
        " VALUES (%s, '!', false, %s, 'Other', '', false, true, now(), now())",
        [other, f"{other}@cluster.test"],
    )
    for org, member in ((org_a, user), (org_b, other)):
        owner.execute(
            "INSERT INTO organizations_membership (id, role, created_at, updated_at, user_id,"
            " organization_id) VALUES (%s, 'owner', now(), now(), %s, %s)",
            [uuid.uuid4(), member, org],
        )
    return user, org_a, org_b


def _claim(cursor: psycopg.Cursor, *, user: uuid.UUID, org: uuid.UUID, role: str) -> None:
    for name, value in (("app.user_id", user), ("app.org_id", org), ("app.role", role)):
        cursor.execute(
            sql.SQL("SET LOCAL {} = {}").format(
                sql.Identifier(*name.split(".")), sql.Literal(str(value))
            )
        )


def test_every_tenant_table_is_distributed_by_organization_and_colocated(owner):
    rows = owner.execute(
        """
        SELECT logicalrelid::regclass::text, partmethod,
               column_to_column_name(logicalrelid, partkey), colocationid
          FROM pg_dist_partition
        """
    ).fetchall()
    kinds = {table: (method, column) for table, method, column, _ in rows}
    tenant = {t for t, (method, _) in kinds.items() if method == "h"}
    assert {kinds[t][1] for t in tenant} == {"organization_id"}
    assert len({c for t, m, _, c in rows if m == "h"}) == 1, "tenant tables not colocated"
    local = owner.execute(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
           AND c.oid NOT IN (SELECT logicalrelid FROM pg_dist_partition)
        """
    ).fetchall()
    assert local == [], "every table is distributed or a reference table"
    assert kinds["organizations_organization"][0] == "n"
    assert kinds["accounts_user"][0] == "n"
    assert "organizations_membership" in tenant and "sites_page" in tenant


def test_citus_check_is_clean_on_the_cluster_form_even_strict():
    # The pending shapes of the single node are gone; audit's organization_id became NOT
    # NULL with its (organization_id, id) key (platform events: ADR 0013).
    report = run_citus_checks()
    assert (report.problems, report.pending) == ([], [])
    call_command("citus_check", "--strict")


def test_no_claim_sees_no_row_of_any_tenant_table(owner, app):
    _seed(owner)
    tenant = [
        row[0]
        for row in owner.execute(
            "SELECT logicalrelid::regclass::text FROM pg_dist_partition WHERE partmethod = 'h'"
        ).fetchall()
    ]
    (seeded,) = owner.execute("SELECT count(*) FROM organizations_membership").fetchone()
    assert seeded >= 2  # the owner sees them: the zero below is not an empty table
    for label, value in (("no claim", None), ("empty claim", "")):
        with app.transaction(force_rollback=True), app.cursor() as cursor:
            if value is not None:
                for name in ("user_id", "org_id", "role"):
                    cursor.execute(sql.SQL("SET LOCAL {} = ''").format(sql.Identifier("app", name)))
            for table in tenant:
                cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
                assert cursor.fetchone() == (0,), f"{table} shows rows with {label}"


def _membership_insert(cursor: psycopg.Cursor, table: str, org: uuid.UUID, user: uuid.UUID):
    cursor.execute(
        sql.SQL(
            "INSERT INTO {} (id, role, created_at, updated_at, user_id, organization_id)"
            " VALUES (%s, 'member', now(), now(), %s, %s)"
        ).format(sql.Identifier(table)),
        [uuid.uuid4(), user, org],
    )


def test_a_cross_tenant_insert_is_refused_through_the_coordinator(owner, app):
    user, org_a, org_b = _seed(owner)
    newcomer = _seed(owner)[0]
    with app.transaction(force_rollback=True), app.cursor() as cursor:
        _claim(cursor, user=user, org=org_a, role="owner")
        # Into its own organization: admitted (the refusal below is the policy's).
        _membership_insert(cursor, "organizations_membership", org_a, newcomer)
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
        app.transaction(force_rollback=True),
        app.cursor() as cursor,
    ):
        _claim(cursor, user=user, org=org_a, role="owner")
        _membership_insert(cursor, "organizations_membership", org_b, user)


def test_a_cross_tenant_insert_is_refused_on_the_worker_holding_the_shard(owner, worker_urls):
    user, org_a, org_b = _seed(owner)
    shard, port = owner.execute(
        """
        SELECT s.shard_name, s.nodeport FROM citus_shards s
         WHERE s.shardid = get_shard_id_for_distribution_column('organizations_membership', %s)
        """,
        [org_b],
    ).fetchone()
    with psycopg.connect(worker_urls[str(port)]) as worker:
        with worker.transaction(force_rollback=True), worker.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(shard)))
            assert cursor.fetchone() == (0,), "the shard shows rows without a claim"
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
            worker.transaction(force_rollback=True),
            worker.cursor() as cursor,
        ):
            _claim(cursor, user=user, org=org_a, role="owner")
            _membership_insert(cursor, shard, org_b, user)
