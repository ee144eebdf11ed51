"""Organization API keys: format, shown once, stored hashed, authentication, the
database principal, revocation, expiry, throttling, audit actor (acceptance 1)."""

from __future__ import annotations

import hashlib
import re
import zlib
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from integrations.apikeys import ApiKeyPrincipal
from integrations.models import ApiKey
from organizations.tenancy import service_context
from projects.models import Project
from tests.helpers import make_org
from tests.projects.support import make_project

pytestmark = pytest.mark.django_db

KEY_FORMAT = re.compile(r"^saas_[0-9A-Za-z]{36}[0-9A-Za-z]{6}$")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _create(personas, persona="admin", **body):
    body = {"name": "CI", "role": "member", **body}
    response = personas.client(persona).post("/api/v1/orgs/acme/api-keys/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _crc_base62(text: str) -> str:
    """The checksum as the issue describes it (CRC32 in base62, 6 characters), written
    independently of integrations.apikeys."""
    n = zlib.crc32(text.encode())
    digits = ""
    for _ in range(6):
        n, d = divmod(n, 62)
        digits = BASE62[d] + digits
    return digits


def test_the_create_response_carries_a_well_formed_key_once(personas):
    body = _create(personas)
    key = body["key"]
    assert KEY_FORMAT.match(key), key
    assert key[-6:] == _crc_base62(key[5:-6])
    assert body["hint"] == f"saas_…{key[-4:]}"
    listed = personas.client("admin").get("/api/v1/orgs/acme/api-keys/").json()
    detail = personas.client("admin").get(f"/api/v1/orgs/acme/api-keys/{body['id']}/").json()
    assert key not in str(listed) and key not in str(detail)
    assert "key" not in detail and detail["name"] == "CI"


def test_the_key_is_in_no_table_in_clear(personas):
    key = _create(personas)["key"]
    with service_context(reason="test: search every table"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        hits = []
        for table in tables:
            cursor.execute(
                f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s',
                [f"%{key[5:-4]}%"],
            )
            if cursor.fetchone()[0]:
                hits.append(table)
        cursor.execute("SELECT hashed_key FROM integrations_apikey WHERE name = 'CI'")
        (stored,) = cursor.fetchone()
    assert hits == []
    assert stored == hashlib.sha256(key.encode()).hexdigest()


def test_a_key_lists_its_organizations_projects(personas):
    with service_context(reason="test"):
        make_project(personas.org, personas.users["owner"], "alpha")
    key = _create(personas)["key"]

    response = _key_client(key).get("/api/v1/orgs/acme/projects/")

    assert response.status_code == 200, response.content
    assert [p["slug"] for p in response.json()["results"]] == ["alpha"]


def test_a_key_is_404_on_another_organizations_routes(personas):
    key = _create(personas)["key"]
    client = _key_client(key)
    assert client.get("/api/v1/orgs/globex/projects/").status_code == 404
    assert client.get("/api/v1/orgs/globex/").status_code == 404


def test_a_key_is_404_on_another_org_even_when_its_creator_belongs_to_both(personas):
    admin = personas.users["admin"]
    make_org("initech", {admin: "owner"})
    key = _create(personas)["key"]
    assert _key_client(key).get("/api/v1/orgs/initech/projects/").status_code == 404


def test_a_revoked_key_is_401_at_once(personas):
    body = _create(personas)
    client = _key_client(body["key"])
    assert client.get("/api/v1/orgs/acme/projects/").status_code == 200

    revoke = personas.client("admin").delete(f"/api/v1/orgs/acme/api-keys/{body['id']}/")
    assert revoke.status_code == 204

    response = client.get("/api/v1/orgs/acme/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_an_expired_key_is_401(personas):
    body = _create(personas, expires_at=(timezone.now() + timedelta(hours=1)).isoformat())
    client = _key_client(body["key"])
    assert client.get("/api/v1/orgs/acme/projects/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        response = client.get("/api/v1/orgs/acme/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_expired"


@pytest.mark.parametrize(
    "key",
    [
        "saas_" + "A" * 42,  # checksum wrong
        "saas_short",
        "saas_" + "!" * 42,
    ],
)
def test_a_malformed_or_unknown_key_is_401(personas, key):
    response = _key_client(key).get("/api/v1/orgs/acme/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_invalid"


def test_a_well_formed_key_that_was_never_issued_is_401(personas):
    random_part = "Z" * 36
    key = f"saas_{random_part}{_crc_base62(random_part)}"
    response = _key_client(key).get("/api/v1/orgs/acme/projects/")
    assert response.status_code == 401


def test_a_key_cannot_outrank_its_creator(personas):
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/api-keys/", {"name": "x", "role": "owner"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "role_too_high"


def test_the_keys_role_caps_what_it_may_do(personas):
    key = _create(personas, role="viewer")["key"]
    response = _key_client(key).post("/api/v1/orgs/acme/projects/", {"name": "Nope"}, format="json")
    assert response.status_code == 403


def test_the_creators_current_role_caps_the_key(personas):
    key = _create(personas, role="admin")["key"]
    client = _key_client(key)
    assert client.get("/api/v1/orgs/acme/audit-events/").status_code == 200
    membership = personas.membership("admin")
    with service_context(reason="test: demote"):
        membership.role = "viewer"
        membership.save()
    assert client.get("/api/v1/orgs/acme/audit-events/").status_code == 403
    assert (
        client.post("/api/v1/orgs/acme/projects/", {"name": "x"}, format="json").status_code == 403
    )


def test_the_database_caps_a_keys_role_below_its_creators(personas):
    """RLS sees the key: the admin's viewer key cannot write through raw SQL."""
    _create(personas, role="viewer")
    with service_context(reason="test"):
        api_key = ApiKey.objects.get(name="CI")
        make_project(personas.org, personas.users["owner"], "alpha")
    principal = ApiKeyPrincipal(id=api_key.id, organization_id=personas.org.id)
    with transaction.atomic(), connection.cursor() as cursor:
        org = principal.enter_org("acme")
        assert org.role == "viewer"
        cursor.execute("SELECT app.current_role()")
        assert cursor.fetchone()[0] == "viewer"
        cursor.execute("UPDATE projects_project SET name = 'pwned'")
        assert cursor.rowcount == 0
        cursor.execute("SELECT count(*) FROM integrations_apikey")
        assert cursor.fetchone()[0] == 0  # admins only: the key is a viewer
        transaction.set_rollback(True)


def test_the_database_refuses_a_revoked_keys_role_within_the_transaction(personas):
    _create(personas, role="admin")
    with service_context(reason="test"):
        api_key = ApiKey.objects.get(name="CI")
    principal = ApiKeyPrincipal(id=api_key.id, organization_id=personas.org.id)
    with transaction.atomic(), connection.cursor() as cursor:
        assert principal.enter_org("acme").role == "admin"
        with service_context(reason="test: revoke behind its back"):
            ApiKey.objects.filter(id=api_key.id).update(revoked_at=timezone.now())
        cursor.execute("SELECT app.current_role()")
        assert cursor.fetchone()[0] is None
        transaction.set_rollback(True)


def test_user_scoped_routes_refuse_keys(personas):
    key = _create(personas)["key"]
    response = _key_client(key).get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "api_key_not_allowed"
    assert _key_client(key).get("/api/v1/orgs/").status_code == 403


def test_audit_events_name_the_key_as_actor(personas):
    body = _create(personas)
    response = _key_client(body["key"]).post(
        "/api/v1/orgs/acme/projects/", {"name": "By Key"}, format="json"
    )
    assert response.status_code == 201, response.content
    with service_context(reason="test"):
        event = AuditEvent.objects.get(organization=personas.org, action="project.created")
    assert event.actor_type == "api_key"
    assert event.actor_label == f"api_key:{body['id']}"
    assert event.actor_id == personas.users["admin"].id


def test_last_used_is_written_at_most_once_a_minute(personas):
    body = _create(personas)
    client = _key_client(body["key"])
    start = timezone.now()

    def last_used():
        with service_context(reason="test"):
            return ApiKey.objects.get(id=body["id"]).last_used_at

    with time_machine.travel(start, tick=False):
        client.get("/api/v1/orgs/acme/projects/")
    first = last_used()
    assert first is not None
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get("/api/v1/orgs/acme/projects/")
    assert last_used() == first
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get("/api/v1/orgs/acme/projects/")
    assert last_used() > first


def test_a_key_is_throttled_on_its_own(personas, monkeypatch, settings):
    monkeypatch.setitem(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api_key", "3/min")
    key = _create(personas)["key"]
    client = _key_client(key)
    codes = [client.get("/api/v1/orgs/acme/projects/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    # the creator's own (JWT) requests are not in the key's bucket
    assert personas.client("admin").get("/api/v1/orgs/acme/projects/").status_code == 200


def test_a_key_request_costs_the_same_queries_as_a_jwt_request(personas):
    with service_context(reason="test"):
        for i in range(3):
            make_project(personas.org, personas.users["owner"], f"p{i}")
    key = _create(personas)["key"]
    _key_client(key).get("/api/v1/orgs/acme/projects/")  # last_used_at written now
    with CaptureQueriesContext(connection) as with_key:
        assert _key_client(key).get("/api/v1/orgs/acme/projects/").status_code == 200
    jwt = personas.client("admin")
    with CaptureQueriesContext(connection) as with_jwt:
        assert jwt.get("/api/v1/orgs/acme/projects/").status_code == 200
    assert len(with_key) <= len(with_jwt)


def test_a_member_cannot_manage_keys_and_a_viewer_key_cannot_either(personas):
    assert personas.client("member").get("/api/v1/orgs/acme/api-keys/").status_code == 403
    key = _create(personas, role="viewer")["key"]
    assert _key_client(key).get("/api/v1/orgs/acme/api-keys/").status_code == 403


def test_projects_created_by_key_belong_to_the_creator(personas):
    key = _create(personas)["key"]
    _key_client(key).post("/api/v1/orgs/acme/projects/", {"name": "K"}, format="json")
    with service_context(reason="test"):
        assert Project.objects.get(slug="k").created_by_id == personas.users["admin"].id


def test_a_disabled_creators_key_is_401(personas):
    key = _create(personas)["key"]
    admin = personas.users["admin"]
    with service_context(reason="test"):
        admin.is_active = False
        admin.save()
    assert _key_client(key).get("/api/v1/orgs/acme/projects/").status_code == 401


def test_a_key_of_a_creator_who_left_is_404(personas):
    key = _create(personas)["key"]
    with service_context(reason="test"):
        personas.membership("admin").delete()
    assert _key_client(key).get("/api/v1/orgs/acme/projects/").status_code == 404


def test_scopes_limit_a_key_to_the_actions_they_name(personas):
    with service_context(reason="test"):
        make_project(personas.org, personas.users["owner"], "alpha")
    key = _create(personas, role="admin", scopes=["project.list", "project.view"])["key"]
    client = _key_client(key)
    assert client.get("/api/v1/orgs/acme/projects/").status_code == 200
    assert client.get("/api/v1/orgs/acme/projects/alpha/").status_code == 200
    refused = client.post("/api/v1/orgs/acme/projects/", {"name": "x"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "api_key_scope"
    assert client.get("/api/v1/orgs/acme/members/").status_code == 403


def test_a_prefix_scope_covers_its_actions(personas):
    key = _create(personas, scopes=["project.*"])["key"]
    client = _key_client(key)
    assert (
        client.post("/api/v1/orgs/acme/projects/", {"name": "x"}, format="json").status_code == 201
    )
    assert client.get("/api/v1/orgs/acme/members/").status_code == 403


def test_unknown_scopes_are_refused(personas):
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/api-keys/", {"name": "x", "scopes": ["projects.read"]}, format="json"
    )
    assert response.status_code == 400


def test_a_key_cannot_use_or_see_its_creators_own_provider_keys(personas):
    from tests.integrations.makers import user_integration_name

    user_integration_name(personas)  # admin (the key's creator) has one
    key = _create(personas, role="admin")["key"]
    client = _key_client(key)
    # A person's own provider keys are no machine's business (issue 17 §1; before that,
    # the key saw an empty list and a 404, and a PUT was a 500).
    for response in (
        client.get("/api/v1/orgs/acme/user-integrations/"),
        client.get("/api/v1/orgs/acme/user-integrations/my-ai/"),
        client.put("/api/v1/orgs/acme/user-integrations/my-ai/", {}, format="json"),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "api_key_not_allowed"
    assert (
        personas.client("admin").get("/api/v1/orgs/acme/user-integrations/my-ai/").status_code
        == 200
    )
