"""Every policy that carries a role check holds in raw SQL, for every role it leaves out.

The role checks are read from ``pg_policies`` (policies calling
``app.has_role('{...}')``), so a role check added later is tested without
anyone listing it, and one that goes missing fails here: a role outside the
policy's list, claiming ``acme`` for real (``enter_org``), can neither read
(when the SELECT policy names roles) nor INSERT, UPDATE or DELETE.

Reading the checks from the schema alone would miss a check that has been
deleted (the table would simply stop being tested), so a hand-kept table,
:data:`REQUIRED_ROLE_GUARDS`, written from the issues and docs, names the
checks that must exist; they are tested with the roles written there. Role
checks found only in the schema (added later, by another app) are tested
with the roles their policies name.

A command is role-guarded when at least one of its permissive policies
names roles; the roles admitted are the union of them. Another permissive
policy for the same command without a role is allowed only if it is a
"my own rows" policy (it mentions ``app.current_user_id()``, like
``membership_leave``): the writes then target rows of other users only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from psycopg import sql

from organizations.tenancy import clear_claims, enter_org
from tests.helpers import ROLES, Personas
from tests.security.objects import fill_tenant_tables
from tests.security.tables import (
    REFUSED,
    attempt,
    columns,
    count,
    in_org,
    insert_copy,
    rows_of,
    tenant_column,
)

pytestmark = pytest.mark.django_db

HAS_ROLE = re.compile(r"app\.has_role\('\{([^}]*)\}'")
OWN_ROWS = re.compile(r"app\.current_user_id\(\)")
COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class RoleGuard:
    table: str
    command: str
    roles: frozenset[str]
    own_rows_allowed: bool  # a role-less "my own rows" policy also applies


ORG_ADMINS = frozenset({"owner", "admin"})

# (table, command) -> org roles allowed, and whether a "my own rows" policy also applies.
# From issue 2 and docs/architecture.md: invitations and the audit log are owners' and
# admins'; admins edit the organization and its memberships, owners delete it; anyone
# may leave (delete their own membership). From issue 3 and docs/permissions.md:
# members create projects, owners and admins delete them and manage project members.
REQUIRED_ROLE_GUARDS: dict[tuple[str, str], tuple[frozenset[str], bool]] = {
    ("organizations_organization", "UPDATE"): (ORG_ADMINS, False),
    ("organizations_organization", "DELETE"): (frozenset({"owner"}), False),
    ("organizations_membership", "INSERT"): (ORG_ADMINS, False),
    ("organizations_membership", "UPDATE"): (ORG_ADMINS, False),
    ("organizations_membership", "DELETE"): (ORG_ADMINS, True),
    ("organizations_invitation", "SELECT"): (ORG_ADMINS, False),
    ("organizations_invitation", "INSERT"): (ORG_ADMINS, False),
    ("organizations_invitation", "UPDATE"): (ORG_ADMINS, False),
    ("organizations_invitation", "DELETE"): (ORG_ADMINS, False),
    ("audit_auditevent", "SELECT"): (ORG_ADMINS, False),
    ("projects_project", "INSERT"): (frozenset({"owner", "admin", "member"}), False),
    ("projects_project", "DELETE"): (ORG_ADMINS, False),
    ("projects_projectmember", "INSERT"): (ORG_ADMINS, False),
    ("projects_projectmember", "UPDATE"): (ORG_ADMINS, False),
    ("projects_projectmember", "DELETE"): (ORG_ADMINS, False),
}


def guards_to_test() -> list[RoleGuard]:
    """The required guards (with their hand-kept roles) plus any other found in the schema."""
    found = {(g.table, g.command): g for g in role_guards()}
    required = {
        key: RoleGuard(key[0], key[1], roles, own_rows)
        for key, (roles, own_rows) in REQUIRED_ROLE_GUARDS.items()
    }
    return list((found | required).values())


def role_guards() -> list[RoleGuard]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, cmd, coalesce(qual, ''), coalesce(with_check, '')"
            " FROM pg_policies WHERE schemaname = 'public' AND permissive = 'PERMISSIVE'"
        )
        policies = cursor.fetchall()
    guards = []
    for table in sorted({p[0] for p in policies}):
        for command in COMMANDS:
            applying = [p for p in policies if p[0] == table and p[1] in (command, "ALL")]
            roles: set[str] = set()
            role_less = []
            for _, _, qual, check in applying:
                # Which rows a command reaches is USING's; what an INSERT adds, WITH CHECK's.
                text = check if command == "INSERT" else (qual or check)
                found = HAS_ROLE.search(text)
                if found:
                    roles |= {r.strip() for r in found.group(1).split(",")}
                else:
                    role_less.append(text)
            if not roles:
                continue
            if any(not OWN_ROWS.search(text) for text in role_less):
                continue  # someone without a role may do it anyway: not role-guarded
            guards.append(RoleGuard(table, command, frozenset(roles), bool(role_less)))
    return guards


def test_every_required_role_check_is_in_the_policies():
    """Each hand-kept guard exists in pg_policies and admits no role beyond its list."""
    found = {(g.table, g.command): g.roles for g in role_guards()}
    wrong = {
        key: sorted(found.get(key, ()))
        for key, (roles, _) in REQUIRED_ROLE_GUARDS.items()
        if key not in found or not found[key] <= roles
    }
    assert wrong == {}, "role checks missing from the policies, or wider than required"
    assert ("organizations_membership", "SELECT") not in found  # every member lists them


OWNER_COLUMNS = ("user_id", "author_id")  # what a "my own rows" policy compares


def _others(table: str, user_id) -> tuple[sql.Composable, list[str]]:
    """Rows of acme not the caller's own (its owner column), as WHERE + params."""
    for column in OWNER_COLUMNS:
        if column in columns(table):
            return sql.SQL(" AND {} IS DISTINCT FROM %s").format(sql.Identifier(column)), [
                str(user_id)
            ]
    return sql.SQL(""), []


def _breaches(guard: RoleGuard, personas: Personas, role: str) -> list[str]:
    user = personas.user(role)
    table, column = guard.table, tenant_column(guard.table)
    org = str(personas.org.id)
    rows = rows_of(table, personas.org.id)
    others, others_params = _others(table, user.id) if guard.own_rows_allowed else (sql.SQL(""), [])
    target = sql.SQL("{} = %s").format(sql.Identifier(column)) + others
    assert rows, f"{table} has no rows of acme: the test would prove nothing"
    with transaction.atomic():
        assert enter_org(user.id, "acme").role == role
        if guard.command == "SELECT":
            seen = count(table, in_org(table) + others, [org, *others_params])
            return [f"{role} reads {seen} row(s)"] if seen else []
        if guard.command == "INSERT":
            affected, error = insert_copy(table, rows[0])
        elif guard.command == "UPDATE":
            affected, error = attempt(
                sql.SQL("UPDATE {t} SET {c} = {c} WHERE ").format(
                    t=sql.Identifier(table), c=sql.Identifier(column)
                )
                + target,
                [org, *others_params],
            )
        else:
            affected, error = attempt(
                sql.SQL("DELETE FROM {} WHERE ").format(sql.Identifier(table)) + target,
                [org, *others_params],
            )
    if affected or error not in (None, REFUSED):
        return [f"{role} {guard.command}: {affected} row(s), error {error}"]
    return []


def test_a_role_below_a_policys_roles_can_neither_read_nor_write_in_raw_sql(personas):
    fill_tenant_tables(personas)
    clear_claims()
    guards = guards_to_test()
    assert len(guards) >= len(REQUIRED_ROLE_GUARDS)
    breaches = {}
    for guard in guards:
        for role in sorted({r.value for r in ROLES} - guard.roles):
            found = _breaches(guard, personas, role)
            if found:
                breaches[f"{guard.table} {guard.command} (roles {sorted(guard.roles)})"] = found
    assert breaches == {}


def test_a_role_inside_a_policys_roles_is_admitted(personas):
    """The positive control: the refusals above are the role check's, not a broken setup.

    Allowed roles read rows; their INSERT of a copy passes RLS and stops at the
    primary key (23505) instead.
    """
    fill_tenant_tables(personas)
    clear_claims()
    refused = []
    for guard in role_guards():
        if guard.command not in ("SELECT", "INSERT"):
            continue
        row = rows_of(guard.table, personas.org.id)[0]
        for role in sorted(guard.roles):
            with transaction.atomic():
                assert enter_org(personas.user(role).id, "acme").role == role
                if guard.command == "SELECT":
                    admitted = count(guard.table, in_org(guard.table), [str(personas.org.id)]) > 0
                else:
                    admitted = insert_copy(guard.table, row)[1] == "23505"
            if not admitted:
                refused.append((guard.table, guard.command, role))
    assert refused == []
