"""Claims and elevation never outlive their unit of work.

These tests use real transactions (``transaction=True``): inside one
long test transaction a leak would be invisible.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, transaction

from organizations.tenancy import TenancyError, service_context, set_user_claim, tenant_context
from tests.helpers import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def _claims_and_role() -> tuple[str | None, str | None, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.user_id', true),"
            " current_setting('app.org_id', true), current_user"
        )
        return cursor.fetchone()


def _visible_orgs() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM organizations_organization")
        return cursor.fetchone()[0]


def test_a_request_leaves_no_claims_on_its_connection(personas):
    response = client_for(personas.user("owner")).get("/api/v1/orgs/acme/members/")
    assert response.status_code == 200
    user_claim, org_claim, role = _claims_and_role()
    assert not user_claim and not org_claim
    assert role == settings.DB_APP_ROLE
    assert _visible_orgs() == 0


def test_claims_cannot_be_set_outside_a_transaction():
    assert not connection.in_atomic_block
    with pytest.raises(TenancyError):
        set_user_claim(None)


def test_service_context_hands_back_the_app_role_inside_a_longer_transaction(personas):
    with transaction.atomic():
        with service_context(reason="test"):
            assert _claims_and_role()[2] == settings.DB_SERVICE_ROLE
            assert _visible_orgs() == 2
        assert _claims_and_role()[2] == settings.DB_APP_ROLE
        assert _visible_orgs() == 0


def test_service_context_is_undone_when_its_block_fails(personas):
    with transaction.atomic():
        with pytest.raises(ZeroDivisionError), service_context(reason="test"):
            1 / 0  # noqa: B018
        assert _claims_and_role()[2] == settings.DB_APP_ROLE
        assert _visible_orgs() == 0


def test_tenant_context_clears_its_claims_on_the_way_out(personas):
    with transaction.atomic():
        with tenant_context(user_id=personas.user("member").id, org_slug="acme") as org:
            assert org.role == "member"
            assert _visible_orgs() == 1
        assert _claims_and_role()[:2] in ((None, None), ("", ""))
        assert _visible_orgs() == 0


def test_service_context_requires_a_reason():
    with pytest.raises(TenancyError), service_context(reason="  "):
        pass
