"""Background work for sites (Django Tasks API, database backend)."""

from __future__ import annotations

from django_tasks import task

from sites.services import deployments


@task()
def build_deployment(deployment_id: str) -> str:
    """Build one deployment to a final status (see :func:`deployments.run_build`).

    The deployment's own status is the record of how it went: a failed build is
    a task that succeeded in running it."""
    return deployments.run_build(deployment_id)
