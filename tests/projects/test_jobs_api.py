"""Jobs through the API: starting, reading, canceling (the worker is not involved here;
see ``test_jobs_worker.py``)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from organizations.tenancy import service_context
from projects.models import Asset, Job
from tests.projects.support import (
    audit_actions,
    count,
    error_code,
    make_asset,
    make_job,
    make_project,
    project_url,
    reload,
)

pytestmark = pytest.mark.django_db


ZIP = b"PK\x05\x06" + b"\x00" * 18  # an empty zip archive


def jobs_url(project, rest=""):
    return project_url(project, f"jobs/{rest}")


def start(personas, project, body, persona="member"):
    return personas.client(persona).post(jobs_url(project), body, format="json")


def test_starting_a_job_queues_it_and_its_task_on_commit(
    personas, project, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = start(personas, project, {"type": "project.export"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["type"], body["status"], body["progress"]) == ("project.export", "queued", 0)
    assert body["created_by"]["email"] == "member@acme.test"
    queued = DBTaskResult.objects.filter(status="READY")
    assert [(t.task_path, t.args_kwargs["args"]) for t in queued] == [
        ("projects.tasks.run_job", [body["id"]])
    ]
    assert audit_actions(personas.org, "job.") == ["job.created"]


def test_an_unknown_job_type_is_a_400(personas, project):
    response = start(personas, project, {"type": "project.teleport"})

    assert response.status_code == 400
    assert "type" in response.json()["error"]["details"]
    assert count(Job, project=project) == 0


def test_an_export_takes_no_parameters(personas, project):
    response = start(personas, project, {"type": "project.export", "parameters": {"x": 1}})

    assert response.status_code == 400
    assert count(Job, project=project) == 0


def test_an_import_needs_a_zip_asset_of_the_project(personas, project, media_root):
    member = personas.users["member"]
    text = make_asset(project, member, name="notes.txt")
    elsewhere = make_asset(
        make_project(personas.org, personas.users["owner"], "other"),
        member,
        name="a.zip",
        content=ZIP,
        content_type="application/zip",
    )

    for parameters in (
        {},
        {"asset_id": "nope"},
        {"asset_id": str(text.id)},
        {"asset_id": str(elsewhere.id)},
    ):
        response = start(
            personas, project, {"type": "project.import_zip", "parameters": parameters}
        )
        assert response.status_code == 400, parameters
        assert "parameters" in response.json()["error"]["details"]
    assert count(Job, project=project) == 0


def test_an_import_of_a_zip_asset_is_queued(personas, project, media_root):
    archive = make_asset(
        project, personas.users["member"], name="a.zip", content=ZIP, content_type="application/zip"
    )

    response = start(
        personas,
        project,
        {"type": "project.import_zip", "parameters": {"asset_id": str(archive.id)}},
    )

    assert response.status_code == 201, response.json()
    assert response.json()["parameters"] == {
        "asset_id": str(archive.id),
        "message": "Import from a.zip",
    }


def test_a_viewer_cannot_start_a_job_but_reads_them(personas, project):
    make_job(project)

    assert start(personas, project, {"type": "project.export"}, "viewer").status_code == 403
    response = personas.client("viewer").get(jobs_url(project))
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_a_member_of_another_org_gets_404(personas, project):
    job = make_job(project)
    client = personas.client("outsider")

    assert client.get(jobs_url(project)).status_code == 404
    assert client.get(jobs_url(project, f"{job.id}/")).status_code == 404
    assert client.post(jobs_url(project, f"{job.id}/cancel/")).status_code == 404
    assert reload(Job, id=job.id).status == Job.Status.QUEUED


def test_a_job_shows_its_progress_result_and_outputs(personas, project, media_root):
    job = make_job(
        project,
        status=Job.Status.COMPLETED,
        progress=100,
        result={"files": 2},
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    output = make_asset(
        project,
        personas.users["member"],
        name="out.zip",
        content=ZIP,
        content_type="application/zip",
    )
    with service_context(reason="test fixture"):
        Asset.objects.filter(id=output.id).update(job=job, kind=Asset.Kind.OUTPUT)

    body = personas.client("viewer").get(jobs_url(project, f"{job.id}/")).json()

    assert (body["status"], body["progress"], body["result"]) == ("completed", 100, {"files": 2})
    assert body["output_asset_ids"] == [str(output.id)]
    assert body["started_at"] and body["finished_at"]


def test_canceling_a_queued_job_cancels_it_at_once(personas, project):
    job = make_job(project)

    response = personas.client("member").post(jobs_url(project, f"{job.id}/cancel/"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "canceled"
    assert body["finished_at"] is not None
    assert audit_actions(personas.org, "job.") == ["job.canceled"]


def test_canceling_a_processing_job_asks_it_to_stop(personas, project):
    job = make_job(project, status=Job.Status.PROCESSING, started_at=timezone.now())

    response = personas.client("member").post(jobs_url(project, f"{job.id}/cancel/"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "processing"
    assert body["cancel_requested_at"] is not None


def test_canceling_a_canceled_job_changes_nothing(personas, project):
    job = make_job(project, status=Job.Status.CANCELED, finished_at=timezone.now())

    response = personas.client("member").post(jobs_url(project, f"{job.id}/cancel/"))

    assert response.status_code == 200
    assert audit_actions(personas.org, "job.") == []


@pytest.mark.parametrize("final", [Job.Status.COMPLETED, Job.Status.FAILED, Job.Status.PARTIAL])
def test_a_finished_job_cannot_be_canceled(personas, project, final):
    job = make_job(project, status=final, finished_at=timezone.now())

    response = personas.client("member").post(jobs_url(project, f"{job.id}/cancel/"))

    assert response.status_code == 409
    assert error_code(response) == "job_finished"
    assert reload(Job, id=job.id).status == final


def test_a_viewer_cannot_cancel_a_job(personas, project):
    job = make_job(project)

    response = personas.client("viewer").post(jobs_url(project, f"{job.id}/cancel/"))

    assert response.status_code == 403
    assert reload(Job, id=job.id).status == Job.Status.QUEUED


def test_jobs_are_filtered_by_status(personas, project):
    make_job(project)
    make_job(project, status=Job.Status.FAILED, error="boom")

    results = personas.client("member").get(jobs_url(project) + "?status=failed").json()["results"]

    assert [(j["status"], j["error"]) for j in results] == [("failed", "boom")]


def test_listing_jobs_costs_the_same_queries_for_3_or_15(personas, project, media_root):
    client = personas.client("member")
    url = jobs_url(project)

    def measure():
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        return len(queries), len(response.json()["results"])

    def add_jobs(n):
        for _ in range(n):
            job = make_job(project, created_by=personas.users["member"])
            asset = make_asset(project, personas.users["member"])
            with service_context(reason="test fixture"):
                Asset.objects.filter(id=asset.id).update(job=job, kind=Asset.Kind.OUTPUT)

    add_jobs(3)
    few = measure()
    add_jobs(12)
    many = measure()

    assert (few[1], many[1]) == (3, 15)
    assert few[0] == many[0]
