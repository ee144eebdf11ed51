"""Jobs end to end: API -> on_commit -> task queue -> the real worker -> job status.

These tests commit for real (``transaction=True``) so that ``on_commit``
queues the task and the worker — ``db_worker`` in the test thread, or its loop
in a second thread with its own connection when the test must watch a job
while it runs — sees it.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import zipfile

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from organizations.models import Membership
from organizations.tenancy import service_context
from projects.jobs.registry import register, unregister
from projects.jobs.runner import LOST_ACCESS
from projects.models import Asset, FileRevision, Job, Project, ProjectFile
from projects.services.assets import asset_create_output
from projects.services.files import file_delete
from tests.organizations.support import run_worker
from tests.projects.support import (
    audit_actions,
    count,
    make_file,
    project_url,
    reload,
    stored_files,
    worker_in_thread,
)

pytestmark = pytest.mark.django_db(transaction=True)


class Gate:
    """Lets the test thread and a job running in the worker thread take turns."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()


@pytest.fixture
def gate():
    gate = Gate()

    def wait(context):
        context.report(50)
        gate.started.set()
        if not gate.release.wait(20):
            raise RuntimeError("never released")
        return {"waited": True}

    def until_canceled(context):
        context.report(10)
        gate.started.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if context.should_cancel():
                return {"stopped": True}
            time.sleep(0.02)
        raise RuntimeError("never canceled")

    def fail(context):
        raise RuntimeError("the flux capacitor broke")

    def output_then_fail(context):
        with context.atomic():
            asset_create_output(
                actor=context.user,
                organization_id=context.organization_id,
                project_id=context.project_id,
                job_id=context.job_id,
                filename="half.txt",
                content=b"half written",
                content_type="text/plain",
            )
            raise RuntimeError("crashed while writing its output")

    types = {
        "test.wait": wait,
        "test.until_canceled": until_canceled,
        "test.fail": fail,
        "test.output_then_fail": output_then_fail,
    }
    for name, run in types.items():
        register(name)(run)
    try:
        yield gate
    finally:
        gate.release.set()
        for name in types:
            unregister(name)


def jobs_url(project, rest=""):
    return project_url(project, f"jobs/{rest}")


def start(personas, project, type, parameters=None, persona="member"):
    response = personas.client(persona).post(
        jobs_url(project), {"type": type, "parameters": parameters or {}}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def job_body(personas, project, job_id, persona="member"):
    return personas.client(persona).get(jobs_url(project, f"{job_id}/")).json()


def upload_zip(personas, project, content, name="code.zip"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = personas.client("member").post(
        project_url(project, "assets/"),
        {"file": SimpleUploadedFile(name, content, content_type="application/zip")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def live_files(project) -> dict[str, str]:
    with service_context(reason="test read"):
        return dict(
            ProjectFile.objects.filter(project=project, deleted_at__isnull=True).values_list(
                "path", "current_revision__content"
            )
        )


# --- running -----------------------------------------------------------------------------------


def test_a_job_reports_progress_through_the_api_while_it_runs(personas, project, gate):
    job_id = start(personas, project, "test.wait")

    with worker_in_thread():
        try:
            assert gate.started.wait(15), "the job did not start"
            running = job_body(personas, project, job_id, "viewer")
            assert (running["status"], running["progress"]) == ("processing", 50)
            assert running["started_at"] is not None
            assert running["finished_at"] is None
        finally:
            gate.release.set()

    done = job_body(personas, project, job_id, "viewer")
    assert (done["status"], done["progress"], done["result"]) == (
        "completed",
        100,
        {"waited": True},
    )
    assert done["finished_at"] is not None
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"]
    # The job reported 50%: one tenth crossed, one `job.progress` event (the live feed).
    assert audit_actions(personas.org, "job.") == ["job.created", "job.progress", "job.finished"]


def test_a_failing_job_records_its_error_and_logs_the_traceback(personas, project, gate, caplog):
    job_id = start(personas, project, "test.fail")

    with caplog.at_level(logging.ERROR, logger="projects.jobs.runner"):
        run_worker()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["error"]) == ("failed", "the flux capacitor broke")
    assert body["finished_at"] is not None
    [record] = [r for r in caplog.records if r.name == "projects.jobs.runner"]
    assert record.exc_info and "flux capacitor" in str(record.exc_info[1])


def test_a_processing_job_stops_when_canceled(personas, project, gate):
    job_id = start(personas, project, "test.until_canceled")

    with worker_in_thread():
        assert gate.started.wait(15), "the job did not start"
        response = personas.client("member").post(jobs_url(project, f"{job_id}/cancel/"))
        assert response.status_code == 200
        assert response.json()["status"] == "processing"
        assert response.json()["cancel_requested_at"] is not None

    body = job_body(personas, project, job_id)
    assert body["status"] == "canceled"
    assert body["finished_at"] is not None
    assert audit_actions(personas.org, "job.") == [
        "job.created",
        "job.progress",
        "job.canceled",
        "job.finished",
    ]


def test_a_job_canceled_while_queued_never_runs(personas, project, gate):
    job_id = start(personas, project, "test.fail")
    personas.client("member").post(jobs_url(project, f"{job_id}/cancel/"))

    run_worker()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["started_at"], body["error"]) == ("canceled", None, "")
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"]


def test_a_job_fails_if_its_starter_lost_access_before_it_ran(personas, project, gate):
    job_id = start(personas, project, "test.wait")
    with service_context(reason="test fixture"):
        Membership.objects.filter(organization=personas.org, user=personas.users["member"]).delete()

    run_worker()

    body = job_body(personas, project, job_id, "admin")
    assert (body["status"], body["error"]) == ("failed", LOST_ACCESS)
    assert not gate.started.is_set()


def test_a_job_failing_while_writing_an_output_leaves_neither_row_nor_file(
    personas, project, gate, media_root
):
    job_id = start(personas, project, "test.output_then_fail")

    run_worker()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["error"]) == ("failed", "crashed while writing its output")
    assert body["output_asset_ids"] == []
    assert count(Asset, project=project) == 0
    assert stored_files(media_root) == []


# --- project.export ------------------------------------------------------------------------------


def test_export_zips_every_live_file_at_head_into_an_output_asset(personas, project, media_root):
    owner = personas.users["owner"]
    make_file(project, "README.md", "# Demo\n", actor=owner)
    make_file(project, "src/app.py", "print('héllo')\n", actor=owner)
    gone = make_file(project, "old.txt", "obsolete", actor=owner)
    with service_context(reason="test fixture"):
        file_delete(actor=owner, file=gone)
    job_id = start(personas, project, "project.export")

    run_worker()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["progress"]) == ("completed", 100), body
    [asset_id] = body["output_asset_ids"]
    assert body["result"]["files"] == 2
    asset = personas.client("viewer").get(project_url(project, f"assets/{asset_id}/")).json()
    assert (asset["kind"], asset["content_type"]) == ("output", "application/zip")
    download = personas.client("viewer").get(asset["download_url"])
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as archive:
        assert sorted(archive.namelist()) == ["README.md", "src/app.py"]
        assert archive.read("src/app.py").decode() == "print('héllo')\n"


# --- project.import_zip ------------------------------------------------------------------------


def test_import_of_a_corrupt_zip_fails_with_the_error(personas, project, media_root):
    asset_id = upload_zip(personas, project, b"PK\x03\x04 this is not really a zip")
    job_id = start(personas, project, "project.import_zip", {"asset_id": asset_id})

    run_worker()

    body = job_body(personas, project, job_id)
    assert body["status"] == "failed"
    assert "not a valid zip archive" in body["error"]
    assert live_files(project) == {}


def test_import_of_a_zip_with_a_damaged_entry_fails_before_writing_anything(
    personas, project, media_root
):
    data = bytearray(make_zip({"a.txt": b"first file " * 50, "b.txt": b"second file " * 50}))
    marker = data.index(b"b.txt") + len(b"b.txt") + 5  # inside b.txt's compressed data
    data[marker] ^= 0xFF
    asset_id = upload_zip(personas, project, bytes(data))
    job_id = start(personas, project, "project.import_zip", {"asset_id": asset_id})

    run_worker()

    body = job_body(personas, project, job_id)
    assert body["status"] == "failed"
    assert "corrupt" in body["error"] and "b.txt" in body["error"]
    assert live_files(project) == {}


def test_import_creates_files_as_the_starter_and_skips_what_cannot_be_a_file(
    personas, project, media_root, settings
):
    settings.PROJECT_MAX_FILE_BYTES = 100
    archive = make_zip(
        {
            "src/app.py": b"print('hi')\n",
            "docs/": b"",
            "big.txt": b"x" * 101,
            "logo.png": b"\x89PNG\r\n\x1a\n\xff\xfe",
            "../escape.txt": b"nope",
        }
    )
    asset_id = upload_zip(personas, project, archive)
    job_id = start(personas, project, "project.import_zip", {"asset_id": asset_id})

    run_worker()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["progress"]) == ("partial", 100), body
    assert body["result"]["created"] == ["src/app.py"]
    skipped = {entry["item"]: entry["reason"] for entry in body["result"]["skipped"]}
    assert set(skipped) == {"big.txt", "logo.png", "../escape.txt"}
    assert "larger than 100 bytes" in skipped["big.txt"]
    assert skipped["logo.png"] == "not UTF-8 text"
    assert live_files(project) == {"src/app.py": "print('hi')\n"}
    with service_context(reason="test read"):
        revision = FileRevision.objects.get(file__path="src/app.py")
    assert revision.author_id == personas.users["member"].id
    assert revision.message == "Import from code.zip"


def test_import_adds_revisions_to_existing_files_and_none_for_unchanged_ones(
    personas, project, media_root
):
    make_file(project, "same.txt", "same\n")
    make_file(project, "changed.txt", "old\n")
    asset_id = upload_zip(
        personas, project, make_zip({"same.txt": b"same\n", "changed.txt": b"new\n"})
    )
    job_id = start(personas, project, "project.import_zip", {"asset_id": asset_id})

    run_worker()

    body = job_body(personas, project, job_id)
    assert body["status"] == "completed", body
    assert (body["result"]["updated"], body["result"]["unchanged"]) == (
        ["changed.txt"],
        ["same.txt"],
    )
    with service_context(reason="test read"):
        numbers = dict(
            ProjectFile.objects.filter(project=project).values_list(
                "path", "current_revision__number"
            )
        )
    assert numbers == {"same.txt": 1, "changed.txt": 2}
    assert live_files(project)["changed.txt"] == "new\n"


def test_a_job_row_is_the_record_even_when_the_task_succeeded(personas, project, gate):
    """A failed job is a task that succeeded in running it: the job's status is the truth."""
    start(personas, project, "test.fail")

    run_worker()

    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"]
    assert reload(Job, project=project).status == Job.Status.FAILED


def test_an_import_into_a_project_archived_since_it_was_queued_fails(personas, project, media_root):
    asset_id = upload_zip(personas, project, make_zip({"a.txt": b"a"}))
    job_id = start(personas, project, "project.import_zip", {"asset_id": asset_id})
    with service_context(reason="test fixture"):
        Project.objects.filter(pk=project.pk).update(archived_at=timezone.now())

    run_worker()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["error"]) == (
        "failed",
        "The project was archived; nothing was imported.",
    )
    assert live_files(project) == {}
