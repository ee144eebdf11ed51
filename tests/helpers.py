"""Builders shared by the tests: personas, signed-in clients, tenant snapshots."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone
from psycopg import sql
from rest_framework.test import APIClient

from accounts.models import Session, User
from accounts.services import user_create
from accounts.tokens import token_pair
from organizations.models import Membership, Organization
from organizations.permissions import Role
from organizations.tenancy import service_context

PASSWORD = "correct-horse-battery-9"
ROLES = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER, Role.BILLING]


def make_user(email: str, *, password: str = PASSWORD, **extra: Any) -> User:
    with service_context(reason="test fixture"):
        return user_create(email=email, password=password, **extra)


def make_org(slug: str, members: dict[User, str]) -> Organization:
    with service_context(reason="test fixture"):
        org = Organization.objects.create(name=slug.title(), slug=slug)
        for user, role in members.items():
            Membership.objects.create(organization=org, user=user, role=role)
    return org


def access_token(user: User) -> str:
    """A JWT access token of a new session of ``user`` (signed in the real way)."""
    session = Session.objects.create(user=user, expires_at=timezone.now() + timedelta(days=1))
    return token_pair(session)["access"]


def client_for(user: User | None) -> APIClient:
    """A client signed in the real way: a session and a JWT access token."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
    return client


@dataclass
class Personas:
    org: Organization
    other_org: Organization
    users: dict[str, User] = field(default_factory=dict)

    def user(self, persona: str) -> User | None:
        return self.users.get(persona)

    def membership(self, persona: str) -> Membership:
        with service_context(reason="test lookup"):
            return Membership.objects.get(organization=self.org, user=self.users[persona])

    def client(self, persona: str) -> APIClient:
        return client_for(self.users.get(persona))


PERSONAS = [*(r.value for r in ROLES), "outsider", "anonymous"]


def make_personas(slug: str = "acme", other_slug: str = "globex") -> Personas:
    users = {role.value: make_user(f"{role.value}@{slug}.test") for role in ROLES}
    users["outsider"] = make_user(f"owner@{other_slug}.test")
    org = make_org(slug, {users[r.value]: r for r in ROLES})
    other = make_org(other_slug, {users["outsider"]: Role.OWNER})
    return Personas(org=org, other_org=other, users=users)


def table_checksums(tables: list[str]) -> dict[str, str]:
    """Content checksum of each table, read in the service context.

    Platform audit events (organization NULL) are left out: reading a snapshot
    is itself an audited elevation.
    """
    out = {}
    with service_context(reason="test snapshot"), service_context_cursor() as cursor:
        for table in tables:
            where = (
                sql.SQL("WHERE t.organization_id IS NOT NULL")
                if table == "audit_auditevent"
                else sql.SQL("")
            )
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(string_agg(t::text, '|' ORDER BY t::text), '')"
                    " FROM {} t {}"
                ).format(sql.Identifier(table), where)
            )
            count, text = cursor.fetchone()
            out[table] = f"{count}:{hashlib.sha256(text.encode()).hexdigest()}"
    return out


def service_context_cursor() -> Any:
    from django.db import connection

    return connection.cursor()


@dataclass
class TwoOrgs:
    """A user in two organizations, each with rows in every tenant table.

    ``user`` (``dual@acme.test``) is an **admin** of ``first`` (``acme``, the
    usual personas' org) and a **member** of ``second.org`` (``initech``, a
    full second set of personas). Admin in the first so every write policy of
    that org admits them; member in the second so that org is among
    ``app.user_org_ids()``: exactly the user an "any of my organizations"
    policy would let read or move rows across.
    """

    first: Personas
    second: Personas
    user: User


def make_two_org_persona(personas: Personas, *, second_slug: str = "initech") -> TwoOrgs:
    second = make_personas(second_slug, other_slug=f"{second_slug}-rival")
    user = make_user(f"dual@{personas.org.slug}.test")
    with service_context(reason="test fixture"):
        Membership.objects.create(organization=personas.org, user=user, role=Role.ADMIN)
        Membership.objects.create(organization=second.org, user=user, role=Role.MEMBER)
    return TwoOrgs(first=personas, second=second, user=user)
