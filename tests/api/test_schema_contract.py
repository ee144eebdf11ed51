"""The OpenAPI schema documents the error contract: every operation lists its error
responses with the one envelope, and descriptions are the views' own."""

from __future__ import annotations

import inspect

import pytest
from drf_spectacular.generators import SchemaGenerator

import config.api.serializers
import organizations.api.base
import projects.api.base

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def error_statuses(operation: dict) -> set[int]:
    return {int(s) for s in operation["responses"] if s.isdigit() and int(s) >= 400}


def test_the_error_component_is_the_envelope(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["properties"] == {
        "error": {"$ref": "#/components/schemas/ErrorBody"}
    }
    assert components["Error"]["required"] == ["error"]
    body = components["ErrorBody"]
    assert set(body["properties"]) == {"code", "message", "details", "request_id"}
    assert set(body["required"]) == {"code", "message", "details", "request_id"}


def test_every_operation_lists_error_responses_with_the_envelope(schema):
    seen = 0
    for method, path, operation in operations(schema):
        statuses = error_statuses(operation)
        assert 500 in statuses, (method, path)
        for status in statuses:
            content = operation["responses"][str(status)]["content"]
            assert content["application/json"]["schema"] == {"$ref": ERROR_REF}, (
                method,
                path,
                status,
            )
        seen += 1
    assert seen > 60


def test_authenticated_operations_list_401_and_anonymous_ones_do_not(schema):
    authenticated = 0
    for method, path, operation in operations(schema):
        # security [{}] means "no credentials needed"; otherwise a scheme is required.
        if {} not in operation.get("security", [{}]):
            authenticated += 1
            assert 401 in error_statuses(operation), (method, path)
    assert authenticated > 50
    token = error_statuses(_op(schema, "POST", "/api/v1/auth/token/"))
    assert 401 in token  # declared: wrong password
    assert 403 in token  # declared: a disabled account (after the right password)
    assert 404 not in token
    assert 401 not in error_statuses(_op(schema, "GET", "/api/v1/health/"))


def _op(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][path][method.lower()]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        # org route, list with filters and pagination, throttled
        ("GET", "/api/v1/orgs/{org_slug}/members/", {400, 401, 403, 404, 429, 500}),
        # a body: 400/413/415; org route: 403/404; declared: 409 (last owner)
        (
            "PATCH",
            "/api/v1/orgs/{org_slug}/members/{membership_id}/",
            {400, 401, 403, 404, 409, 413, 415, 429, 500},
        ),
        # no body, no query: no 400
        ("DELETE", "/api/v1/me/sessions/{session_id}/", {401, 404, 429, 500}),
        ("POST", "/api/v1/orgs/", {400, 401, 409, 413, 415, 429, 500}),
        ("GET", "/api/v1/health/", {500}),
    ],
)
def test_operations_list_the_statuses_that_apply(schema, method, path, expected):
    assert error_statuses(_op(schema, method, path)) == expected


def test_throttled_responses_document_retry_after(schema):
    response = _op(schema, "GET", "/api/v1/me/")["responses"]["429"]
    assert response["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_writes_inside_a_project_declare_the_archived_conflict(schema):
    for method, path, operation in operations(schema):
        if "/projects/{project_slug}/" in path and method in {"POST", "PUT", "PATCH", "DELETE"}:
            assert 409 in error_statuses(operation), (method, path)


def _base_docstrings() -> set[str]:
    """The docstrings of the shared base classes: none may describe an endpoint or a
    component (drf-spectacular inherits a base's docstring by default)."""
    docs = set()
    for module in (organizations.api.base, projects.api.base, config.api.serializers):
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and obj.__dict__.get("__doc__"):
                docs.add(inspect.cleandoc(obj.__doc__))
    return docs


def test_no_base_class_docstring_leaks_into_descriptions(schema):
    leaked = _base_docstrings()
    assert len(leaked) >= 5
    for method, path, operation in operations(schema):
        assert operation.get("description", "") not in leaked, (method, path)
    for name, component in schema["components"]["schemas"].items():
        assert component.get("description", "") not in leaked, name


def test_the_api_description_covers_every_app(schema):
    description = schema["info"]["description"].lower()
    for app in ("accounts", "organizations", "projects", "sites", "integrations", "billing"):
        assert app in description, app
    assert "request_id" in description and "docs/api.md" in description
