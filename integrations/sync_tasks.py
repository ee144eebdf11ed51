"""Background work of sync jobs (Django Tasks API, database backend)."""

from __future__ import annotations

from django_tasks import task

from integrations import sync


@task()
def run_integration_job(job_id: str) -> str:
    """Run one integration job to a final status (see :func:`integrations.sync.run_job`)."""
    return sync.run_job(job_id)
