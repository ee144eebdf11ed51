"""Forged claims and two-org users, in every guarded table, in raw SQL as the runtime role.

The tables come from the schema (``guarded_tables``) and are filled by
``fill_tenant_tables``, like the no-claims tests: a table added later is
probed without anyone listing it, and an empty one fails the suite.

* A user who is not a member of ``acme`` and claims it by ``set_config``
  sees no row that is not theirs, in any table. (Killed mutant:
  ``app.current_org_id()`` trusting the claim without checking membership.)
* A user in two organizations, claiming one, sees none of the other's rows in
  any tenant table, and cannot move any row into the other organization by
  UPDATE, with or without WHERE. (Killed mutants: a tenant table's SELECT
  policy or an UPDATE's WITH CHECK admitting ``app.user_org_ids()``.)
  ``organizations_organization`` and ``organizations_membership`` list "my
  organizations" on purpose and are left out of the read test only.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction
from psycopg import sql

from organizations.tenancy import clear_claims, enter_org, service_context
from projects.services.projects import favorite_add
from tests.helpers import Personas, TwoOrgs, make_two_org_persona, make_user
from tests.projects.makers_workspace import workspace
from tests.security.objects import fill_tenant_tables
from tests.security.tables import (
    ANY_ORG_TABLES,
    REFUSED,
    attempt,
    columns,
    count,
    guarded_tables,
    in_org,
    rows_of,
    tenant_column,
    tenant_tables,
)

pytestmark = pytest.mark.django_db


def _not_theirs(table: str, own_org: uuid.UUID, user_id: uuid.UUID) -> int:
    """How many rows of ``table`` belong neither to ``own_org`` nor to the user."""
    column = tenant_column(table)
    if column:
        where, params = sql.SQL("{} IS DISTINCT FROM %s").format(sql.Identifier(column)), [own_org]
    elif "user_id" in columns(table):
        where, params = sql.SQL("user_id IS DISTINCT FROM %s"), [user_id]
    else:
        where, params = sql.SQL("true"), []
    return count(table, where, [str(p) for p in params])


@pytest.mark.parametrize("forger", ["outsider", "loner"])
def test_a_forged_org_claim_sees_nothing_that_is_not_theirs_in_every_guarded_table(
    personas: Personas, forger: str
):
    fill_tenant_tables(personas)
    clear_claims()
    user = personas.user("outsider") if forger == "outsider" else make_user("loner@example.test")
    own_org = personas.other_org.id if forger == "outsider" else uuid.uuid4()
    tables = guarded_tables()
    with service_context(reason="test: every table has rows of acme"):
        empty = [t for t in tables if not _not_theirs(t, own_org, user.id)]
    assert not empty, f"tables without rows cannot prove isolation: {empty}"

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.user_id', %s, true), set_config('app.org_id', %s, true)",
            [str(user.id), str(personas.org.id)],
        )
        seen = {t: _not_theirs(t, own_org, user.id) for t in tables}
    assert {t: n for t, n in seen.items() if n} == {}


@pytest.fixture
def two_orgs(personas: Personas) -> TwoOrgs:
    fill_tenant_tables(personas)
    pair = make_two_org_persona(personas)
    fill_tenant_tables(pair.second)
    # The dual user's own row where a policy is "mine only" (favorites), so a move
    # of it is possible at all.
    with service_context(reason="test fixture"):
        favorite_add(user=pair.user, project=workspace(personas)["project"])
    clear_claims()
    return pair


def _claimed(pair: TwoOrgs, org_slug: str) -> None:
    found = enter_org(pair.user.id, org_slug)
    assert found is not None, f"dual user is not a member of {org_slug}"


def test_every_tenant_table_has_rows_in_both_orgs(two_orgs: TwoOrgs):
    tables = tenant_tables()
    missing = [
        (t, org.slug)
        for t in tables
        for org in (two_orgs.first.org, two_orgs.second.org)
        if not rows_of(t, org.id)
    ]
    assert not missing, f"tables without rows cannot prove isolation: {missing}"


@pytest.mark.parametrize("claim", ["first", "second"])
def test_a_two_org_user_sees_none_of_the_other_orgs_rows_in_every_tenant_table(
    two_orgs: TwoOrgs, claim: str
):
    claimed, other = (two_orgs.first, two_orgs.second)[:: 1 if claim == "first" else -1]
    tables = [t for t in tenant_tables() if t not in ANY_ORG_TABLES]
    assert len(tables) >= 10
    with transaction.atomic():
        _claimed(two_orgs, claimed.org.slug)
        seen = {t: count(t, in_org(t), [str(other.org.id)]) for t in tables}
        own = sum(count(t, in_org(t), [str(claimed.org.id)]) for t in tables)
    assert {t: n for t, n in seen.items() if n} == {}
    assert own > 0  # the claim itself works: the zeros above are not "sees nothing at all"


@pytest.mark.parametrize("scope", ["every row", "one row"])
def test_a_two_org_admin_cannot_move_any_row_into_the_other_org(two_orgs: TwoOrgs, scope: str):
    first, second = two_orgs.first.org, two_orgs.second.org
    tables = [t for t in tenant_tables() if tenant_column(t) == "organization_id"]
    moved = {}
    for table in tables:
        rows = rows_of(table, first.id)
        statement = sql.SQL("UPDATE {} SET organization_id = %s").format(sql.Identifier(table))
        params = [str(second.id)]
        if scope == "one row":
            # The caller's own row where there is one (favorites), else any row of acme.
            mine = [r for r in rows if r.get("user_id") == str(two_orgs.user.id)]
            statement += sql.SQL(" WHERE id = %s")
            params.append((mine or rows)[0]["id"])
        with transaction.atomic():
            _claimed(two_orgs, first.slug)
            affected, error = attempt(statement, params)
        if affected or error not in (None, REFUSED):
            moved[table] = (affected, error)
    assert moved == {}, "rows moved (or stopped only by a constraint, not by RLS/grants)"
    with service_context(reason="test: nothing moved"):
        assert all(rows_of(t, first.id) for t in tables)
