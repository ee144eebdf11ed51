"""Builders for the workspace tests and the route matrix's object makers.

:data:`WORKSPACE_MAKERS` gives a value for every URL kwarg the workspace
routes introduce. All of them share one idempotent fixture world in
``personas.org``: the org-visible project ``matrix`` with ``README.md`` at
revision 1, a project member (``pm@acme.test``, org ``member``, project
``editor`` — an extra user, so no persona's rights change), who also starred
the project, and the snapshot ``baseline``. So ``workspace(personas)`` also
puts rows in every workspace table (project, member, favorite, file, revision,
snapshot, snapshot entry) for the tests that need every guarded table filled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection

from accounts.models import User
from accounts.services import user_create
from audit.models import AuditEvent
from organizations.models import Membership, Organization
from organizations.permissions import Role
from organizations.tenancy import service_context
from projects.models import FileRevision, Project, ProjectFile, ProjectMember, Snapshot
from projects.services.files import file_create, file_update
from projects.services.projects import favorite_add, project_create, project_member_add
from projects.services.snapshots import snapshot_create
from tests.helpers import PASSWORD, Personas

MATRIX_SLUG = "matrix"
PROJECT_MEMBER_EMAIL = "pm@acme.test"


def projects_url(org_slug: str = "acme") -> str:
    return f"/api/v1/orgs/{org_slug}/projects/"


def project_url(slug: str = "demo", rest: str = "", *, org_slug: str = "acme") -> str:
    return f"{projects_url(org_slug)}{slug}/{rest}"


def file_url(project: Project, file: Any, rest: str = "") -> str:
    file_id = file if isinstance(file, str) else file["id"] if isinstance(file, dict) else file.pk
    return project_url(project.slug, f"files/{file_id}/{rest}")


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


# --- builders (past RLS, through the real services) ---------------------------------------


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


# --- readers (past RLS) ---------------------------------------------------------------------


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


def audit_events(org: Organization, prefix: str = "") -> list[AuditEvent]:
    with service_context(reason="test read of the audit trail"):
        return list(
            AuditEvent.objects.filter(organization_id=org.id, action__startswith=prefix)
            .exclude(action="system.elevated")
            .order_by("sequence")
        )


def audit_actions(org: Organization, prefix: str = "") -> list[str]:
    return [event.action for event in audit_events(org, prefix)]


def count_past_rls(table: str, **where: Any) -> int:
    clauses = " AND ".join(f"{column} = %s" for column in where) or "true"
    with service_context(reason="test read"), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {clauses}", list(where.values()))
        return cursor.fetchone()[0]


# --- the route matrix's makers ------------------------------------------------------------------


def workspace(personas: Personas) -> dict[str, Any]:
    """The shared fixture world (created on first use, found afterwards)."""
    owner = personas.users["owner"]
    with service_context(reason="test fixture: workspace objects"):
        project = Project.objects.filter(organization=personas.org, slug=MATRIX_SLUG).first()
        if project is None:
            project = make_project(personas.org, owner, MATRIX_SLUG, name="Matrix")
            make_file(project, "README.md", "# Matrix\n", actor=owner)
            pm = make_org_member(personas.org, PROJECT_MEMBER_EMAIL, Role.MEMBER)
            add_project_member(project, pm, ProjectMember.Role.EDITOR, actor=owner)
            favorite_add(user=pm, project=project)
            make_snapshot(project, "baseline", actor=owner)
        return {
            "project": project,
            "file": ProjectFile.objects.get(project=project, path="README.md"),
            "member": ProjectMember.objects.get(project=project, user__email=PROJECT_MEMBER_EMAIL),
            "snapshot": Snapshot.objects.get(project=project, name="baseline"),
        }


WORKSPACE_MAKERS: dict[str, Callable[[Personas], str]] = {
    "project_slug": lambda p: workspace(p)["project"].slug,
    "project_member_id": lambda p: str(workspace(p)["member"].pk),
    "file_id": lambda p: str(workspace(p)["file"].pk),
    "number": lambda p: (workspace(p), "1")[1],
    "snapshot_id": lambda p: str(workspace(p)["snapshot"].pk),
}
