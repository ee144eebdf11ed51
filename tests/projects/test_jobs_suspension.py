"""Finding 6 of the hardening review, background half: a job queued (or running) for
an organization that is then suspended, or by an account that is then deactivated,
ends ``failed`` with a clear error and writes nothing more.

Every unit of a job's work enters ``tenant_context`` as its starter, which refuses
a suspended organization and an inactive user (``tenancy.ensure_writable``).
"""

from __future__ import annotations

import pytest

from accounts.models import User
from organizations.services import organization_set_suspended
from organizations.tenancy import service_context
from projects.jobs.runner import ORG_SUSPENDED, STARTER_INACTIVE
from projects.models import Asset
from tests.organizations.support import run_worker
from tests.projects import test_jobs_worker
from tests.projects.support import count, worker_in_thread
from tests.projects.test_jobs_worker import job_body, start

gate = test_jobs_worker.gate  # the fixture with its test job types

pytestmark = pytest.mark.django_db(transaction=True)


def set_suspended(personas, suspended: bool) -> None:
    with service_context(reason="test fixture"):
        organization_set_suspended(actor=None, organization=personas.org, suspended=suspended)


def test_a_job_queued_before_the_suspension_fails_without_running(personas, project, gate):
    job_id = start(personas, project, "test.wait")
    set_suspended(personas, True)

    run_worker()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["error"], body["started_at"]) == ("failed", ORG_SUSPENDED, None)
    assert not gate.started.is_set()


def test_an_export_queued_before_the_suspension_writes_no_output(
    personas, project, gate, media_root
):
    job_id = start(personas, project, "project.export")
    set_suspended(personas, True)

    run_worker()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["error"]) == ("failed", ORG_SUSPENDED)
    assert count(Asset, project=project) == 0  # no output written


def test_a_job_whose_organization_is_suspended_while_it_runs_ends_failed(personas, project, gate):
    job_id = start(personas, project, "test.wait")

    with worker_in_thread():
        try:
            assert gate.started.wait(15), "the job did not start"
            set_suspended(personas, True)
        finally:
            gate.release.set()

    body = job_body(personas, project, job_id)
    assert (body["status"], body["error"]) == ("failed", ORG_SUSPENDED)


def test_a_job_of_a_deactivated_user_fails_without_running(personas, project, gate):
    job_id = start(personas, project, "test.wait")
    User.objects.filter(id=personas.users["member"].id).update(is_active=False)

    run_worker()

    body = job_body(personas, project, job_id, "admin")
    assert (body["status"], body["error"], body["started_at"]) == (
        "failed",
        STARTER_INACTIVE,
        None,
    )
    assert not gate.started.is_set()
