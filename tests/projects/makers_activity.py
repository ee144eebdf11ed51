"""Builders for the activity tests (AI records, jobs, assets, search) and the route
matrix's object makers.

:data:`ACTIVITY_MAKERS` gives a value for every URL kwarg the activity routes
introduce (``conversation_id``, ``generation_id``, ``job_id``, ``asset_id``).
They share the workspace makers' fixture world (the org-visible project
``matrix`` in ``personas.org``) and create their objects idempotently past RLS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django_tasks_db.management.commands.db_worker import Worker

from accounts.models import User
from audit.models import AuditEvent
from organizations.models import Organization
from organizations.tenancy import service_context
from projects.models import Asset, Conversation, Generation, Job, Message, Project, ProjectMember
from projects.services.assets import asset_upload
from projects.services.files import file_create
from projects.storage import staging
from tests.helpers import Personas

MATRIX_SLUG = "matrix"


# --- urls ------------------------------------------------------------------------------------


def project_url(project: Project | str, rest: str = "", *, org_slug: str = "acme") -> str:
    slug = project if isinstance(project, str) else project.slug
    return f"/api/v1/orgs/{org_slug}/projects/{slug}/{rest}"


def search_url(query: str = "", *, org_slug: str = "acme") -> str:
    return f"/api/v1/orgs/{org_slug}/search/{query}"


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


# --- builders (past RLS) --------------------------------------------------------------------


def make_project(
    org: Organization,
    slug: str = "demo",
    *,
    visibility: str = Project.Visibility.ORG,
    created_by: User | None = None,
    **fields: Any,
) -> Project:
    with service_context(reason="test fixture"):
        return Project.objects.create(
            organization=org,
            slug=slug,
            name=fields.pop("name", slug.title()),
            visibility=visibility,
            created_by=created_by,
            **fields,
        )


def add_project_member(project: Project, user: User, role: str) -> ProjectMember:
    with service_context(reason="test fixture"):
        return ProjectMember.objects.create(
            organization_id=project.organization_id, project=project, user=user, role=role
        )


def make_file(project: Project, path: str, content: str, *, actor: User | None = None) -> Any:
    """A file through the workspace's file service (which keeps its search vector)."""
    with service_context(reason="test fixture"):
        return file_create(actor=actor, project=project, path=path, content=content)


def make_conversation(project: Project, title: str = "Chat", *, messages: int = 0) -> Conversation:
    with service_context(reason="test fixture"):
        conversation = Conversation.objects.create(
            organization_id=project.organization_id, project=project, title=title
        )
        for n in range(messages):
            Message.objects.create(
                organization_id=project.organization_id,
                project=project,
                conversation=conversation,
                role=Message.Role.USER,
                content=f"message {n}",
            )
    return conversation


def make_generation(project: Project, **fields: Any) -> Generation:
    with service_context(reason="test fixture"):
        return Generation.objects.create(
            organization_id=project.organization_id,
            project=project,
            prompt=fields.pop("prompt", "Write a haiku"),
            model=fields.pop("model", "test-model"),
            **fields,
        )


def make_job(project: Project, type: str = "project.export", **fields: Any) -> Job:
    """A job row only: nothing is queued for the worker."""
    with service_context(reason="test fixture"):
        return Job.objects.create(
            organization_id=project.organization_id, project=project, type=type, **fields
        )


def make_asset(
    project: Project,
    actor: User,
    *,
    name: str = "notes.txt",
    content: bytes = b"hello\n",
    content_type: str = "text/plain",
    kind: str = Asset.Kind.UPLOAD,
    title: str = "",
) -> Asset:
    """An asset with its file, through the upload service."""
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    with staging(), service_context(reason="test fixture"):
        return asset_upload(actor=actor, project=project, upload=upload, kind=kind, title=title)


# --- readers (past RLS) ----------------------------------------------------------------------


def reload(model: type, **lookup: Any) -> Any:
    with service_context(reason="test read"):
        return model.objects.filter(**lookup).first()


def count(model: type, **lookup: Any) -> int:
    with service_context(reason="test read"):
        return model.objects.filter(**lookup).count()


def audit_actions(org: Organization, prefix: str = "") -> list[str]:
    with service_context(reason="test read of the audit trail"):
        return list(
            AuditEvent.objects.filter(organization_id=org.id, action__startswith=prefix)
            .exclude(action="system.elevated")
            .order_by("sequence")
            .values_list("action", flat=True)
        )


def stored_files(root: Path) -> list[str]:
    """Every file under ``root``, relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def use_fresh_media_root(settings: Any, tmp_path: Path) -> Path:
    """Store assets under a fresh directory for the test (``settings`` is pytest-django's
    fixture, which puts the old value back afterwards)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


# --- the worker -----------------------------------------------------------------------------


@contextmanager
def worker_in_thread(*, timeout: float = 30) -> Iterator[threading.Thread]:
    """The real task worker (``db_worker``'s loop, batch mode) in a thread with its own
    database connection, so the test thread can watch the API while a job runs.
    (The command itself installs signal handlers, which only the main thread may.)"""
    failures: list[BaseException] = []

    def work() -> None:
        try:
            Worker(
                queue_names=["default"],
                interval=0.05,
                batch=True,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id="test-worker-thread",
                excluded_queue_names=[],
            ).run()
        except BaseException as exc:  # surfaced in the test thread
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="test-worker", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        thread.join(timeout)
    assert not thread.is_alive(), "the worker did not finish"
    assert not failures, failures


def wait_for(predicate: Callable[[], Any], *, timeout: float = 15, every: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)


# --- the route matrix's makers -----------------------------------------------------------------


def matrix_project(personas: Personas) -> Project:
    """The shared ``matrix`` project (the workspace makers build it with its files)."""
    from tests.projects.makers_workspace import workspace

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
