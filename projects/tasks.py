"""Background work for projects (Django Tasks API, database backend)."""

from __future__ import annotations

from django_tasks import task

from projects.jobs import runner


@task()
def run_job(job_id: str) -> str:
    """Run one job to a final status (see :mod:`projects.jobs.runner`).

    The job's own status is the record of how it went: a job that fails is a
    task that succeeded in running it. The task fails only if the runner
    itself cannot reach the database.
    """
    return runner.run(job_id)
