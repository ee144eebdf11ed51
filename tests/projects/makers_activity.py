"""The route matrix's object makers for the activity routes (AI records, jobs, assets).

:data:`ACTIVITY_MAKERS` gives a value for every URL kwarg the activity routes
introduce (``conversation_id``, ``generation_id``, ``job_id``, ``asset_id``).
They share the workspace makers' fixture world (the org-visible project
``matrix`` in ``personas.org``) and create their objects idempotently past RLS.
"""

from __future__ import annotations

from collections.abc import Callable

from organizations.tenancy import service_context
from projects.models import Asset, Conversation, Generation, Job, Project
from tests.helpers import Personas
from tests.projects.makers_workspace import workspace
from tests.projects.support import make_asset, make_conversation, make_generation, make_job


def matrix_project(personas: Personas) -> Project:
    """The shared ``matrix`` project (the workspace makers build it with its files)."""
    return workspace(personas)["project"]


def _conversation(personas: Personas) -> str:
    project = matrix_project(personas)
    with service_context(reason="test fixture: activity objects"):
        found = Conversation.objects.filter(project=project, title="matrix").first()
    return str((found or make_conversation(project, "matrix", messages=1)).pk)


def _generation(personas: Personas) -> str:
    project = matrix_project(personas)
    with service_context(reason="test fixture: activity objects"):
        found = Generation.objects.filter(project=project, prompt="matrix").first()
    return str((found or make_generation(project, prompt="matrix")).pk)


def _job(personas: Personas) -> str:
    project = matrix_project(personas)
    with service_context(reason="test fixture: activity objects"):
        found = Job.objects.filter(project=project, type="project.export").first()
    owner = personas.users["owner"]
    return str((found or make_job(project, "project.export", created_by=owner)).pk)


def _asset(personas: Personas) -> str:
    project = matrix_project(personas)
    with service_context(reason="test fixture: activity objects"):
        found = Asset.objects.filter(project=project, title="matrix").first()
    if found is None:
        found = make_asset(project, personas.users["owner"], name="matrix.txt", title="matrix")
    return str(found.pk)


ACTIVITY_MAKERS: dict[str, Callable[[Personas], str]] = {
    "conversation_id": _conversation,
    "generation_id": _generation,
    "job_id": _job,
    "asset_id": _asset,
}
