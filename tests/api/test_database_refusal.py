"""A write the database's own authorization refuses (RLS ``WITH CHECK``, SQLSTATE
42501) answers a 4xx in the one error shape and is logged as a warning, never a 500;
nothing of the request is written (issue 17 §5).

Reproduced by the review: ``PUT /api/v1/orgs/{slug}/user-integrations/{name}/`` with
an API key. A user integration belongs to a person (``user_id`` = the claimed user);
a key's principal is no such person, so the row's policy refuses the INSERT. The app
may refuse the route for keys before it reaches the database (another change makes
``user_integration.manage`` person-only): this test asserts the envelope, not a code.
"""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from integrations.models import UserIntegration
from organizations.tenancy import service_context

pytestmark = pytest.mark.django_db

SECRET = "sk-put-by-a-key-0123456789"


def _key(personas) -> str:
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/api-keys/", {"name": "CI", "role": "admin"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["key"]


def test_a_user_integration_put_with_an_api_key_is_a_4xx_envelope_and_writes_nothing(
    personas, caplog
):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_key(personas)}")

    with caplog.at_level(logging.WARNING):
        response = client.put(
            "/api/v1/orgs/acme/user-integrations/by-key/",
            {"provider": "openai_compatible", "credentials": {"api_key": SECRET}},
            format="json",
        )

    assert 400 <= response.status_code < 500, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response["X-Request-ID"]
    assert SECRET not in response.content.decode()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with service_context(reason="test read"):
        assert not UserIntegration.objects.filter(name="by-key").exists()
        assert not AuditEvent.objects.filter(action__startswith="user_integration.").exists()


def test_an_rls_refusal_that_reaches_the_handler_is_a_403_warning(personas, caplog):
    """The handler's own rule, with the refusal raised by PostgreSQL for real: the app
    role without claims inserting a row is refused by the policy's WITH CHECK."""
    from django.db import DatabaseError, connection, transaction

    from config.api.exceptions import exception_handler, is_database_refusal

    with (
        pytest.raises(DatabaseError, match="row-level security") as raised,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("INSERT INTO integrations_userintegration (id) VALUES (gen_random_uuid())")
    assert is_database_refusal(raised.value)

    with caplog.at_level(logging.WARNING, logger="config.api.exceptions"):
        response = exception_handler(raised.value, {"view": None})
    assert response is not None and response.status_code == 403
    assert response.data["error"]["code"] == "permission_denied"
    [record] = [r for r in caplog.records if r.name == "config.api.exceptions"]
    assert record.levelno == logging.WARNING
    assert "row-level security" in record.getMessage()
