"""JSON bodies with text PostgreSQL cannot store are refused with a 400, not a 500.

Found by the fuzzer (tests/system/test_fuzz.py): a project whose ``settings`` held a
``"\\u0000"`` reached ``jsonb`` and failed there (DataError, 500).
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from organizations.tenancy import service_context

pytestmark = pytest.mark.django_db


def _project_count() -> int:
    with service_context(reason="test: count every project"), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM projects_project")
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    "settings_value",
    [
        {"key\x00": {}},  # in a key
        {"nested": {"deeper": ["fine", "bad\x00value"]}},  # in a nested value
    ],
    ids=["key", "nested-value"],
)
def test_a_nul_character_in_a_json_body_is_a_400_and_nothing_is_written(personas, settings_value):
    before = _project_count()
    body = json.dumps({"name": "Nul", "slug": "nul", "settings": settings_value})

    response = personas.client("owner").post(
        "/api/v1/orgs/acme/projects/", data=body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]) == {"settings"}
    assert _project_count() == before


def test_the_same_body_without_the_nul_character_is_accepted(personas):
    body = {"name": "Fine", "slug": "fine", "settings": {"nested": {"deeper": ["a", "b"]}}}

    before = _project_count()

    response = personas.client("owner").post("/api/v1/orgs/acme/projects/", body, format="json")

    assert response.status_code == 201, response.content
    assert _project_count() == before + 1


def test_a_body_nested_too_deeply_is_a_400(personas):
    body = "[" * 200_000 + "]" * 200_000

    response = personas.client("owner").post(
        "/api/v1/orgs/acme/projects/", data=body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "parse_error"
