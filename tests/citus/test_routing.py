"""Every hot tenant query routes to one shard (issue 20): the project list (W1), a
project's detail (W2) and creating one (W3: the quota check, the insert, its audit
event), run as real API requests on the cluster.

Each request runs with ``citus.multi_task_query_log_level = error`` from the moment
the organization is entered: a statement that would go to more than one shard fails
the request. Every statement the request ran is then EXPLAINed again under the same
claims and its plan must be a single task. Claims are set as the cluster's definer will
set them (``SET LOCAL``, ADR 0013), right after ``app.enter_org``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.citus.support import Tenant, claims, seed_tenant, set_local_claims

pytestmark = pytest.mark.django_db

SINGLE_SHARD = "SET LOCAL citus.multi_task_query_log_level = 'error'"


def _client(owner: psycopg.Connection, tenant: Tenant) -> APIClient:
    session = uuid.uuid4()
    owner.execute(
        "INSERT INTO accounts_session (id, user_id, user_agent, created_at, last_used_at,"
        " expires_at, refresh_jti) VALUES (%s, %s, '', now(), now(), now() + interval '1 day', '')",
        [session, tenant.user_id],
    )
    # Minted without touching the database (token_pair records the refresh token's id as
    # the app role, in the test's transaction, which Citus would then refuse to mix with
    # the definers' reads of the same placements).
    access = AccessToken()
    access["sub"], access["sid"] = str(tenant.user_id), str(session)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@contextmanager
def entered_on_one_shard(tenant: Tenant) -> Iterator[list[tuple[str, Any]]]:
    """Capture the request's statements; after ``app.enter_org``, claim as the cluster's
    definer will and refuse any multi-shard statement."""
    statements: list[tuple[str, Any]] = []
    entered = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if entered:
            statements.append((sql, params))
        result = execute(sql, params, many, context)
        if "app.enter_org(" in sql:
            entered.append(True)
            with context["connection"].connection.cursor() as raw:
                set_local_claims(raw, claims(tenant))
                raw.execute(SINGLE_SHARD)
        return result

    with connection.execute_wrapper(wrapper):
        yield statements
    assert entered, "the request never entered the organization"


def _tasks(tenant: Tenant, sql: str, params: Any) -> list[str]:
    with transaction.atomic(), connection.cursor() as cursor:
        set_local_claims(cursor.cursor, claims(tenant))
        cursor.execute("EXPLAIN " + sql, params)
        plan = [row[0].strip() for row in cursor.fetchall()]
        transaction.set_rollback(True)  # EXPLAIN of an INSERT writes nothing; be sure
    return [line for line in plan if line.startswith("Task Count")]


@pytest.fixture
def tenants(owner: psycopg.Connection) -> Iterator[tuple[Tenant, Tenant]]:
    """Two tenants with projects, whose projects are deleted afterwards: the cluster's
    database is shared by the suite, and a shard group holding project rows is one
    ``isolate_org`` must refuse to split (``tests/citus/test_shard_operations.py`` needs
    groups without them)."""
    pair = seed_tenant(owner, projects=5, prefix="route"), seed_tenant(owner, projects=5)
    yield pair
    owner.execute(
        "DELETE FROM projects_project WHERE organization_id = ANY(%s)",
        [[tenant.org_id for tenant in pair]],
    )


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status"),
    [
        ("W1 project list", "get", "projects/", None, 200),
        ("W2 project detail", "get", "projects/project-1/", None, 200),
    ],
)
def test_hot_reads_route_to_the_tenants_shard(
    owner: psycopg.Connection,
    tenants: Any,
    name: str,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    tenant, _ = tenants
    client = _client(owner, tenant)
    with entered_on_one_shard(tenant) as statements:
        response = getattr(client, method)(f"/api/v1/orgs/{tenant.slug}/{path}", body)
    assert response.status_code == status, (name, response.content[:500])
    explained = [
        (sql, _tasks(tenant, sql, params))
        for sql, params in statements
        if sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE"))
    ]
    assert any("projects_project" in sql for sql, _ in explained), name
    for sql, tasks in explained:
        assert tasks in ([], ["Task Count: 1"]), (name, sql[:300], tasks)


def test_creating_a_project_routes_its_quota_check_insert_and_audit_to_one_shard(
    owner: psycopg.Connection, tenants: Any
) -> None:
    """W3: the projects quota (billing's definer), the project row and its audit event."""
    tenant, _ = tenants
    # As every organization has from its creation (billing's ORGANIZATION_CREATED hook).
    owner.execute(
        "INSERT INTO billing_subscription (id, organization_id, plan_code, status,"
        " stripe_customer_id, stripe_subscription_id, stripe_price_id, cancel_at_period_end,"
        " created_at, updated_at)"
        " VALUES (%s, %s, 'free', 'active', '', '', '', false, now(), now())",
        [uuid.uuid4(), tenant.org_id],
    )
    client = _client(owner, tenant)
    with entered_on_one_shard(tenant) as statements:
        response = client.post(
            f"/api/v1/orgs/{tenant.slug}/projects/", {"name": "Routed"}, format="json"
        )
    assert response.status_code == 201, response.content[:500]
    sql = " ".join(s for s, _ in statements)
    assert 'INSERT INTO "projects_project"' in sql and "audit_auditevent" in sql
