"""Generations: records of model calls and their status transitions, through the API."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organizations.tenancy import service_context
from projects.models import Generation
from projects.services.files import file_create, file_update
from tests.projects.support import (
    audit_actions,
    count,
    error_code,
    make_conversation,
    make_generation,
    make_project,
    project_url,
    reload,
)

pytestmark = pytest.mark.django_db

S = Generation.Status


def generations_url(project, rest=""):
    return project_url(project, f"generations/{rest}")


def patch(personas, project, generation, body, persona="member"):
    return personas.client(persona).patch(
        generations_url(project, f"{generation.id}/"), body, format="json"
    )


def test_a_new_generation_is_queued_and_audited(personas, project):
    conversation = make_conversation(project)

    response = personas.client("member").post(
        generations_url(project),
        {"prompt": "Add a README", "model": "test-model", "conversation": str(conversation.id)},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["conversation"] == str(conversation.id)
    assert body["revision_ids"] == []
    assert (body["started_at"], body["finished_at"], body["duration_ms"]) == (None, None, None)
    assert audit_actions(personas.org, "generation.") == ["generation.created"]


def test_a_generation_cannot_point_at_another_projects_conversation(personas, project):
    elsewhere = make_conversation(make_project(personas.org, personas.users["owner"], "other"))

    response = personas.client("member").post(
        generations_url(project),
        {"prompt": "x", "model": "m", "conversation": str(elsewhere.id)},
        format="json",
    )

    assert response.status_code == 400
    assert "conversation" in response.json()["error"]["details"]
    assert count(Generation, project=project) == 0


def test_a_viewer_cannot_record_a_generation(personas, project):
    response = personas.client("viewer").post(
        generations_url(project), {"prompt": "x", "model": "m"}, format="json"
    )

    assert response.status_code == 403


def test_a_member_of_another_org_gets_404(personas, project):
    generation = make_generation(project)

    client = personas.client("outsider")
    assert client.get(generations_url(project)).status_code == 404
    assert client.get(generations_url(project, f"{generation.id}/")).status_code == 404
    assert (
        patch(personas, project, generation, {"status": "running"}, "outsider").status_code == 404
    )
    assert reload(Generation, id=generation.id).status == S.QUEUED


def test_running_sets_started_at(personas, project):
    generation = make_generation(project)

    response = patch(personas, project, generation, {"status": "running"})

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "running"
    assert response.json()["started_at"] is not None
    assert response.json()["finished_at"] is None


def test_succeeding_records_output_tokens_and_duration(personas, project):
    generation = make_generation(project)
    patch(personas, project, generation, {"status": "running"})

    response = patch(
        personas,
        project,
        generation,
        {"status": "succeeded", "output": "# README", "tokens_in": 12, "tokens_out": 34},
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["output"], body["tokens_in"], body["tokens_out"]) == (
        "succeeded",
        "# README",
        12,
        34,
    )
    assert body["finished_at"] >= body["started_at"]
    assert body["duration_ms"] is not None and body["duration_ms"] >= 0
    assert audit_actions(personas.org, "generation.") == ["generation.finished"]


def test_failing_needs_an_error(personas, project):
    generation = make_generation(project, status=S.RUNNING)

    response = patch(personas, project, generation, {"status": "failed"})

    assert response.status_code == 400
    assert "error" in response.json()["error"]["details"]
    assert reload(Generation, id=generation.id).status == S.RUNNING


def test_failing_records_the_error(personas, project):
    generation = make_generation(project, status=S.RUNNING)

    response = patch(personas, project, generation, {"status": "failed", "error": "rate limited"})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["error"]) == ("failed", "rate limited")


def test_an_error_is_refused_unless_failing(personas, project):
    generation = make_generation(project, status=S.RUNNING)

    response = patch(personas, project, generation, {"status": "succeeded", "error": "oops"})

    assert response.status_code == 400
    assert reload(Generation, id=generation.id).status == S.RUNNING


@pytest.mark.parametrize("start", [S.QUEUED, S.RUNNING])
def test_queued_or_running_can_be_canceled(personas, project, start):
    generation = make_generation(project, status=start)

    response = patch(personas, project, generation, {"status": "canceled"})

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["finished_at"] is not None


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (S.QUEUED, S.SUCCEEDED),
        (S.QUEUED, S.FAILED),
        (S.QUEUED, S.QUEUED),
        (S.RUNNING, S.RUNNING),
        (S.RUNNING, S.QUEUED),
        (S.SUCCEEDED, S.RUNNING),
        (S.SUCCEEDED, S.CANCELED),
        (S.FAILED, S.SUCCEEDED),
        (S.CANCELED, S.RUNNING),
    ],
)
def test_other_transitions_are_a_409(personas, project, start, target):
    generation = make_generation(project, status=start)
    body = {"status": target} | ({"error": "x"} if target == S.FAILED else {})

    response = patch(personas, project, generation, body)

    assert response.status_code == 409
    assert error_code(response) == "invalid_transition"
    assert reload(Generation, id=generation.id).status == start


def test_a_viewer_cannot_move_a_generation(personas, project):
    generation = make_generation(project)

    response = patch(personas, project, generation, {"status": "running"}, "viewer")

    assert response.status_code == 403
    assert reload(Generation, id=generation.id).status == S.QUEUED


def test_generations_are_filtered_by_status(personas, project):
    make_generation(project, prompt="a")
    make_generation(project, prompt="b", status=S.RUNNING)

    response = personas.client("viewer").get(generations_url(project) + "?status=running")

    assert [g["prompt"] for g in response.json()["results"]] == ["b"]


def test_a_generation_lists_the_revisions_it_produced(personas, project):
    generation = make_generation(project, status=S.RUNNING)
    with service_context(reason="test fixture"):
        first = file_create(
            actor=None, project=project, path="a.py", content="1", generation_id=generation.id
        )
        first_revision_id = first.current_revision_id
        _, second = file_update(actor=None, file=first, content="2", generation_id=generation.id)
        file_create(actor=None, project=project, path="b.py", content="unrelated")

    body = personas.client("member").get(generations_url(project, f"{generation.id}/")).json()

    assert sorted(body["revision_ids"]) == sorted([str(first_revision_id), str(second.id)])


def test_listing_generations_costs_the_same_queries_for_3_or_15(personas, project):
    client = personas.client("member")
    url = generations_url(project)

    def measure():
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        return len(queries), len(response.json()["results"])

    for n in range(3):
        make_generation(project, prompt=f"p{n}")
    few = measure()
    for n in range(12):
        make_generation(project, prompt=f"q{n}")
    many = measure()

    assert (few[1], many[1]) == (3, 15)
    assert few[0] == many[0]
