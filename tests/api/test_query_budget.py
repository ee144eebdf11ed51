"""A tenant request costs three statements: the session-bound user, the tenant
context (one ``app.enter_org`` call), and the work itself."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _statements(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    # Savepoints exist only because the test wraps the request in its own transaction.
    return [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.mark.parametrize("url", ["/api/v1/orgs/acme/members/", "/api/v1/orgs/acme/"])
def test_org_scoped_request_is_auth_context_and_one_query(personas, url):
    statements = _statements(personas.client("member"), url)
    assert len(statements) == 3
    assert "accounts_session" in statements[0]
    assert "app.enter_org" in statements[1]
