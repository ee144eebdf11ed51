"""API conventions: one error shape, limits enforced, docs served, health."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import RequestFactory

from config.api.exceptions import handler500
from organizations.permissions import render_markdown
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "details", "request_id"} == set(body["error"])
    assert body["error"]["request_id"] == response["X-Request-ID"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_health_reports_the_database_and_echoes_a_request_id(client):
    response = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="req-12345678")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")  # roles: tests/security/
    assert response["X-Request-ID"] == "req-12345678"


def test_an_unsafe_request_id_is_replaced(client):
    response = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def test_malformed_json_is_a_400_parse_error(personas):
    response = personas.client("owner").generic(
        "PATCH", "/api/v1/orgs/acme/", data='{"name": ', content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_wrong_types_are_a_400_with_field_details(personas):
    response = personas.client("owner").patch("/api/v1/orgs/acme/", {"name": ["a"]}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert "name" in error["details"]


def test_unknown_fields_are_refused_and_nothing_is_written(personas):
    response = personas.client("owner").patch(
        "/api/v1/orgs/acme/", {"name": "New", "suspended_at": "2020-01-01T00:00:00Z"}, format="json"
    )
    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"suspended_at": ["Unknown field."]}
    assert personas.client("owner").get("/api/v1/orgs/acme/").json()["name"] == "Acme"


def test_a_json_array_body_is_a_400(personas):
    response = personas.client("owner").patch("/api/v1/orgs/acme/", [1, 2], format="json")
    assert_error(response, 400, "validation_error")


def test_non_json_content_type_is_a_415(personas):
    response = personas.client("owner").generic(
        "PATCH",
        "/api/v1/orgs/acme/",
        data="name=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 415, "unsupported_media_type")


def test_oversized_body_is_a_413(personas, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"name": "x" * 2048})
    response = personas.client("owner").generic(
        "PATCH", "/api/v1/orgs/acme/", data=body, content_type="application/json"
    )
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("size", ["0", "101", "-5", "lots"])
def test_page_size_out_of_bounds_is_a_400(personas, size):
    response = personas.client("owner").get(f"/api/v1/orgs/acme/members/?page_size={size}")
    error = assert_error(response, 400, "validation_error")
    assert "page_size" in error["details"]


def test_page_size_within_bounds_pages_with_a_cursor(personas):
    client = personas.client("owner")
    first = client.get("/api/v1/orgs/acme/members/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2
    seen = {m["id"] for m in first["results"]} | {m["id"] for m in second["results"]}
    assert len(seen) == 4


def test_a_forged_cursor_is_a_404_in_the_error_shape(personas):
    response = personas.client("owner").get("/api/v1/orgs/acme/members/?cursor=bm9wZQ")
    assert_error(response, 404)


def test_bad_bearer_tokens_are_a_401(client):
    for header in ("Bearer not-a-jwt", "Bearer a.b.c", "Basic Zm9vOmJhcg=="):
        response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
        assert_error(response, 401)


def test_anonymous_is_a_401_not_a_404(client):
    assert_error(client.get("/api/v1/orgs/acme/"), 401)


def test_method_not_allowed_is_a_405(personas):
    assert_error(personas.client("owner").put("/api/v1/orgs/acme/", {}, format="json"), 405)


def test_unknown_api_url_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_server_errors_render_in_the_error_shape():
    response = handler500(RequestFactory().get("/api/v1/x/"))
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "server_error"


def test_openapi_schema_is_valid_and_covers_the_api(client):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/orgs/{org_slug}/members/" in schema["paths"]
    assert "/api/v1/auth/token/" in schema["paths"]


def test_swagger_ui_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()


def test_permissions_doc_is_generated_from_the_matrix():
    from pathlib import Path

    from django.conf import settings

    assert (Path(settings.BASE_DIR) / "docs" / "permissions.md").read_text() == render_markdown()


def test_user_throttle_answers_429_in_the_error_shape(personas, monkeypatch, settings):
    monkeypatch.setitem(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user", "3/min")
    client = client_for(personas.user("member"))
    statuses = [client.get("/api/v1/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    error = assert_error(client.get("/api/v1/me/"), 429, "throttled")
    assert "Retry-After" in client.get("/api/v1/me/")
    assert error["message"]
