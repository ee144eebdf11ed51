"""The base view for everything under ``/api/v1/orgs/{org_slug}/projects/{project_slug}/``.

After the organization is resolved (``OrgScopedAPIView``), the project is
loaded with the caller's per-project override in one query. A project the
caller may not see is a 404 (the database hides private projects too); an
action their project role does not allow is a 403; an archived project only
accepts reads, unarchiving and deletion.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request

from config.errors import Conflict
from organizations.api.base import SAFE_METHODS, OrgScopedAPIView
from organizations.permissions import allows_in_project, project_role
from projects import selectors
from projects.models import Project

ALLOWED_WHEN_ARCHIVED = frozenset({"project.archive", "project.delete", "project.favorite"})


class ProjectScopedAPIView(OrgScopedAPIView):
    project: Project
    # project_archived, and the conflicts of the project's services
    declared_errors = {method: (409,) for method in ("POST", "PUT", "PATCH", "DELETE")}

    def authorize(self, request: Request, action: str, url_kwargs: dict[str, Any]) -> None:
        project = selectors.project_for_user(
            organization_id=self.organization_id,
            slug=url_kwargs["project_slug"],
            user_id=request.user.id,
        )
        if project is None:
            raise exceptions.NotFound()
        private = project.visibility == Project.Visibility.PRIVATE
        if not allows_in_project(self.org.role, project.my_override, action, private=private):
            raise exceptions.PermissionDenied("Your role in this project does not allow this.")
        if (
            project.archived_at
            and request.method not in SAFE_METHODS
            and action not in ALLOWED_WHEN_ARCHIVED
        ):
            raise Conflict("This project is archived; unarchive it first.", code="project_archived")
        self.project = project

    @property
    def my_project_role(self) -> str | None:
        private = self.project.visibility == Project.Visibility.PRIVATE
        return project_role(self.org.role, self.project.my_override, private=private)
