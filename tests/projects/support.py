"""Small builders and readers shared by the project tests (workspace and activity).

Builders and readers work past RLS (in the service context); the builders go
through the real services where one exists. The route matrix's object makers
are in ``makers_workspace.py`` and ``makers_activity.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django_tasks_db.management.commands.db_worker import Worker

from accounts.models import User
from accounts.services import user_create
from audit.models import AuditEvent
from organizations.models import Membership, Organization
from organizations.permissions import Role
from organizations.tenancy import service_context
from projects.models import (
    Asset,
    Conversation,
    FileRevision,
    Generation,
    Job,
    Message,
    Project,
    ProjectFile,
    ProjectMember,
    Snapshot,
)
from projects.services.assets import asset_upload
from projects.services.files import file_create, file_update
from projects.services.projects import project_create, project_member_add
from projects.services.snapshots import snapshot_create
from projects.storage import staging
from tests.helpers import PASSWORD

# --- urls ------------------------------------------------------------------------------------


def projects_url(org_slug: str = "acme") -> str:
    return f"/api/v1/orgs/{org_slug}/projects/"


def project_url(project: Project | str = "demo", rest: str = "", *, org_slug: str = "acme") -> str:
    slug = project if isinstance(project, str) else project.slug
    return f"{projects_url(org_slug)}{slug}/{rest}"


def file_url(project: Project, file: Any, rest: str = "") -> str:
    file_id = file if isinstance(file, str) else file["id"] if isinstance(file, dict) else file.pk
    return project_url(project, f"files/{file_id}/{rest}")


def search_url(query: str = "", *, org_slug: str = "acme") -> str:
    return f"/api/v1/orgs/{org_slug}/search/{query}"


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


# --- builders: the workspace (through the real services) -------------------------------------


def make_project(
    org: Organization,
    actor: User,
    slug: str = "demo",
    *,
    visibility: str = Project.Visibility.ORG,
    **fields: Any,
) -> Project:
    with service_context(reason="test fixture"):
        return project_create(
            actor=actor,
            organization_id=org.id,
            actor_project_role="manager",
            name=fields.pop("name", slug.title()),
            slug=slug,
            visibility=visibility,
            **fields,
        )


def make_file(
    project: Project, path: str = "a.txt", content: str = "one\n", *, actor: User | None = None
) -> ProjectFile:
    """A file through the file service (which numbers the revision and keeps the search
    vector)."""
    with service_context(reason="test fixture"):
        return file_create(actor=actor, project=project, path=path, content=content)


def save_file(file: ProjectFile, content: str, *, actor: User | None = None) -> Any:
    with service_context(reason="test fixture"):
        return file_update(actor=actor, file=file, content=content)[1]


def make_org_member(org: Organization, email: str, role: str = Role.MEMBER) -> User:
    with service_context(reason="test fixture"):
        user = User.objects.filter(email=email).first() or user_create(
            email=email, password=PASSWORD
        )
        Membership.objects.get_or_create(organization=org, user=user, defaults={"role": role})
    return user


def add_project_member(project: Project, user: User, role: str, *, actor: User) -> ProjectMember:
    with service_context(reason="test fixture"):
        return project_member_add(actor=actor, project=project, user_ref=str(user.pk), role=role)


def make_snapshot(project: Project, name: str, *, actor: User) -> Snapshot:
    with service_context(reason="test fixture"):
        return snapshot_create(actor=actor, project=project, name=name)


# --- builders: activity (rows past RLS; assets through the upload service) -----------------


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


def revisions(file: Any) -> list[tuple[int, str]]:
    """(number, content) of every revision of the file, oldest first."""
    file_id = file["id"] if isinstance(file, dict) else file.pk
    with service_context(reason="test read"):
        return list(
            FileRevision.objects.filter(file_id=file_id)
            .order_by("number")
            .values_list("number", "content")
        )


def reload_file(file: Any) -> ProjectFile:
    file_id = file["id"] if isinstance(file, dict) else file.pk
    with service_context(reason="test read"):
        return ProjectFile.objects.select_related("current_revision").get(pk=file_id)


def reload(model: type, **lookup: Any) -> Any:
    with service_context(reason="test read"):
        return model.objects.filter(**lookup).first()


def count(model: type, **lookup: Any) -> int:
    with service_context(reason="test read"):
        return model.objects.filter(**lookup).count()


def count_past_rls(table: str, **where: Any) -> int:
    clauses = " AND ".join(f"{column} = %s" for column in where) or "true"
    with service_context(reason="test read"), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {clauses}", list(where.values()))
        return cursor.fetchone()[0]


def audit_events(org: Organization, prefix: str = "") -> list[AuditEvent]:
    with service_context(reason="test read of the audit trail"):
        return list(
            AuditEvent.objects.filter(organization_id=org.id, action__startswith=prefix)
            .exclude(action="system.elevated")
            .order_by("sequence")
        )


def audit_actions(org: Organization, prefix: str = "") -> list[str]:
    return [event.action for event in audit_events(org, prefix)]


# --- stored files and the worker -------------------------------------------------------------


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
