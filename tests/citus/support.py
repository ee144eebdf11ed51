"""Helpers of the cluster tests: seeding as the owner, claims as the cluster's definer
will set them (``SET LOCAL``, propagated to the workers; ADR 0013)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Tenant:
    org_id: uuid.UUID
    slug: str
    user_id: uuid.UUID


def seed_tenant(
    owner: psycopg.Connection,
    *,
    projects: int = 3,
    prefix: str = "t",
    org_id: uuid.UUID | None = None,
) -> Tenant:
    """An organization with an owner member and ``projects`` projects (committed)."""
    org, user = org_id or uuid.uuid4(), uuid.uuid4()
    slug = f"{prefix}-{org.hex[:12]}"
    owner.execute(
        "INSERT INTO accounts_user (id, password, is_superuser, email, name, avatar_url,"
        " is_staff, is_active, created_at, updated_at)"
        " VALUES (%s, '!', false, %s, 'Cluster', '', false, true, now(), now())",
        [user, f"{user}@cluster.test"],
    )
    owner.execute(
        "INSERT INTO organizations_organization (id, name, slug, created_at, updated_at)"
        " VALUES (%s, 'Org', %s, now(), now())",
        [org, slug],
    )
    owner.execute(
        "INSERT INTO organizations_membership (id, role, created_at, updated_at, user_id,"
        " organization_id) VALUES (%s, 'owner', now(), now(), %s, %s)",
        [uuid.uuid4(), user, org],
    )
    for n in range(projects):
        owner.execute(
            "INSERT INTO projects_project (id, organization_id, name, slug, description, tags,"
            " visibility, settings, archived_at, created_by_id, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, '', '{}', 'org', '{}', NULL, %s, now(), now())",
            [uuid.uuid4(), org, f"Project {n}", f"project-{n}", user],
        )
    return Tenant(org, slug, user)


def claims(tenant: Tenant, role: str = "owner") -> dict[str, str]:
    """What the cluster's definer claims for ``tenant``'s member: user, organization,
    role, the user's organizations and (for an owner) no hidden or read-only project."""
    return {
        "app.user_id": str(tenant.user_id),
        "app.org_id": str(tenant.org_id),
        "app.role": role,
        "app.org_ids": "{" + str(tenant.org_id) + "}",
        "app.hidden_project_ids": "{}",
        "app.readonly_project_ids": "{}",
        "app.api_key_id": "",
    }


def set_local_claims(cursor: Any, values: dict[str, str]) -> None:
    """``SET LOCAL`` each claim (a psycopg or a Django cursor, inside a transaction)."""
    for name, value in values.items():
        statement = sql.SQL("SET LOCAL {} = {}").format(
            sql.Identifier(*name.split(".")), sql.Literal(value)
        )
        if isinstance(cursor, psycopg.Cursor):
            cursor.execute(statement)
        else:
            cursor.execute(statement.as_string(cursor.connection))
