"""The route matrix's object makers for the workspace routes.

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

from organizations.permissions import Role
from organizations.tenancy import service_context
from projects.models import Project, ProjectFile, ProjectMember, Snapshot
from projects.services.projects import favorite_add
from tests.helpers import Personas
from tests.projects.support import (
    add_project_member,
    make_file,
    make_org_member,
    make_project,
    make_snapshot,
)

MATRIX_SLUG = "matrix"
PROJECT_MEMBER_EMAIL = "pm@acme.test"


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
