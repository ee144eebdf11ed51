"""A request that loses its database connection answers 503 ``database_unavailable`` in
the error shape (with ``Retry-After``), never a 500 page; the next request works.

The connection is broken for real: the test's own backend is terminated through the
admin connection, as a database restart would (no mock of the driver or of Django).
"""

from __future__ import annotations

import pytest
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from organizations import roles
from tests.helpers import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def _terminate_this_connections_backend() -> int:
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with roles.admin_connect() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    return pid


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"].isdigit()
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "database_unavailable"
    assert body["error"]["request_id"] == response["X-Request-ID"]


def test_an_api_request_that_loses_the_database_answers_503_then_recovers(personas):
    client = client_for(personas.user("owner"))
    old_pid = _terminate_this_connections_backend()

    _assert_unavailable(client.get("/api/v1/orgs/acme/members/"))

    response = client.get("/api/v1/orgs/acme/members/")
    assert response.status_code == 200, response.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid


def test_a_failure_outside_the_view_answers_503_too(personas):
    """The admin's middleware reads the session before any view runs: handler500 maps it."""
    client = APIClient(raise_request_exception=False)
    client.force_login(personas.user("owner"))
    _terminate_this_connections_backend()

    response = client.get("/admin/")

    _assert_unavailable(response)
    # A server closes a connection that had errors when the request ends (Django's
    # request_finished handler); the test client leaves that out, so do what it would.
    close_old_connections()
    assert client.get("/api/v1/health/").status_code == 200
