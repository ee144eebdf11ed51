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


def test_an_integer_past_64_bits_is_a_400_naming_its_field(personas):
    """Found by the fuzzer: stored in jsonb, then a 500 when rendered back (orjson)."""
    before = _project_count()
    body = '{"name": "Big", "slug": "big", "settings": {"n": 18446744073709551616}}'

    response = personas.client("owner").post(
        "/api/v1/orgs/acme/projects/", data=body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {"settings": ["Integers must fit in 64 bits."]}
    assert _project_count() == before


def test_the_largest_64_bit_integer_is_accepted(personas):
    body = '{"name": "Edge", "slug": "edge", "settings": {"n": 9223372036854775807}}'
    response = personas.client("owner").post(
        "/api/v1/orgs/acme/projects/", data=body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["settings"] == {"n": 9223372036854775807}


def test_errors_of_list_items_are_rendered_with_their_index(personas):
    """Found by the fuzzer: DRF keys a list item's errors by its index (an int), which
    the JSON renderer refused (500)."""
    response = personas.client("owner").post(
        "/api/v1/orgs/acme/projects/", {"name": "Tags", "tags": [{"no": "dict"}]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["tags"] == {"0": ["Not a valid string."]}


@pytest.mark.parametrize(
    "settings_json, code_point",
    [(r'{"n": "x\ud800"}', "D800"), (r'{"\udc00": 1}', "DC00"), (r'{"n": ["\udfff"]}', "DFFF")],
)
def test_a_lone_surrogate_anywhere_is_a_400_naming_its_field(personas, settings_json, code_point):
    """Found by the fuzzer: valid JSON, not valid Unicode; jsonb refused it (500)."""
    before = _project_count()
    body = '{"name": "Lone", "slug": "lone", "settings": ' + settings_json + "}"

    response = personas.client("owner").post(
        "/api/v1/orgs/acme/projects/", data=body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {
        "settings": [f"Surrogate characters are not allowed: U+{code_point}."]
    }
    assert _project_count() == before


def test_a_surrogate_pair_is_one_character_and_accepted(personas):
    body = r'{"name": "Pair", "slug": "pair", "settings": {"emoji": "\ud83d\ude00"}}'
    response = personas.client("owner").post(
        "/api/v1/orgs/acme/projects/", data=body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["settings"] == {"emoji": "\N{GRINNING FACE}"}


def test_a_huge_float_stored_in_jsonb_is_rendered_back_exactly(personas):
    """Found by the fuzzer: jsonb hands 1e30 back as the integer 10**30, which the JSON
    renderer (orjson, 64 bits) refused (500 on every later read of the row)."""
    body = '{"name": "Huge", "slug": "huge", "settings": {"n": 1e30, "m": -2.5e40}}'
    created = personas.client("owner").post(
        "/api/v1/orgs/acme/projects/", data=body, content_type="application/json"
    )
    assert created.status_code == 201, created.content

    response = personas.client("owner").get(f"/api/v1/orgs/acme/projects/{created.json()['slug']}/")

    assert response.status_code == 200
    exact = b'"settings":{"m":-25' + b"0" * 39 + b',"n":1' + b"0" * 30 + b"}"  # jsonb's key order
    assert exact in response.content
