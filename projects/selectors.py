"""Reads for projects. Each takes its organization explicitly; RLS applies underneath."""

from __future__ import annotations

import uuid

from django.db.models import OuterRef, QuerySet, Subquery

from projects.models import Project, ProjectMember


def project_for_user(*, organization_id: uuid.UUID, slug: str, user_id: uuid.UUID) -> Project | None:
    """The project ``slug`` with ``my_override``: the caller's ``ProjectMember`` role, if any.

    One query. ``None`` if it does not exist *or* the caller may not see it
    (RLS hides private projects from non-members).
    """
    override = ProjectMember.objects.filter(
        organization_id=OuterRef("organization_id"), project_id=OuterRef("pk"), user_id=user_id
    ).values("role")[:1]
    return (
        Project.objects.filter(organization_id=organization_id, slug=slug)
        .annotate(my_override=Subquery(override))
        .first()
    )


def projects_of(*, organization_id: uuid.UUID) -> QuerySet[Project]:
    return Project.objects.filter(organization_id=organization_id)
