"""Staff screens for projects: every page renders; archiving goes through the service."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from organizations.tenancy import service_context
from projects.models import FileRevision, Project
from tests.helpers import make_user
from tests.projects.makers_workspace import workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(personas) -> Client:
    client = Client()
    client.force_login(make_user("staff@example.test", is_staff=True, is_superuser=True))
    return client


def test_every_projects_admin_page_renders(staff_client, personas):
    from tests.security.objects import fill_tenant_tables

    fill_tenant_tables(personas)
    for model in (
        "project",
        "projectfile",
        "filerevision",
        "snapshot",
        "conversation",
        "generation",
        "job",
        "asset",
    ):
        changelist = staff_client.get(f"/admin/projects/{model}/")
        assert changelist.status_code == 200, model
    project = workspace(personas)["project"]
    assert staff_client.get(f"/admin/projects/project/{project.id}/change/").status_code == 200


def test_staff_archive_a_project_through_the_service(staff_client, personas):
    project = workspace(personas)["project"]
    staff_client.post(
        "/admin/projects/project/",
        {
            "action": "archive",
            "_selected_action": [str(project.id)],
        },
    )
    with service_context(reason="test read"):
        assert Project.objects.get(id=project.id).archived_at is not None
        event = AuditEvent.objects.filter(action="project.archived").latest("created_at")
    assert event.actor_type == "staff"


def test_revisions_cannot_be_edited_or_deleted_in_the_admin(staff_client, personas):
    file = workspace(personas)["file"]
    with service_context(reason="test read"):
        revision = FileRevision.objects.get(file=file, number=1)
    assert (
        staff_client.get(f"/admin/projects/filerevision/{revision.id}/delete/").status_code == 403
    )
    response = staff_client.post(
        f"/admin/projects/filerevision/{revision.id}/change/", {"message": "x"}
    )
    assert response.status_code == 403
