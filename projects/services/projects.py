"""Every write to projects, their members and favorites.

Same rules as the other apps' services: keyword-only functions, one
transaction each, the audit event recorded inside it. Whether the caller may
perform the *action* at all was decided by the API base view from the
permission matrix (org role + per-project override); these functions check
the rules the matrix cannot express (only a project manager chooses
``private``; only org members can join a project). RLS checks everything a
third time in the database.
"""

from __future__ import annotations

import secrets
import string
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from audit.services import audit_record
from billing.quotas import quota_check_count
from config.errors import Conflict, Forbidden, Invalid, NotFound, conflict_on_duplicate, slug_taken
from organizations.models import Membership
from organizations.permissions import PROJECT_RANK
from projects.models import Asset, Favorite, Project, ProjectMember
from projects.storage import delete_on_commit

UPDATABLE_FIELDS = ("name", "slug", "description", "tags", "visibility", "settings")
MANAGER = "manager"
PROJECT_SLUG_TAKEN = "A project with this slug already exists."


def _slug(value: str) -> str:
    slug = slugify(value)[:60].strip("-")
    if not slug:
        raise Invalid(
            "This slug is not allowed.", details={"slug": ["Use letters, digits and hyphens."]}
        )
    return slug


PRIVATE_SLUG_SUFFIX = 8  # base36 characters: 36**8 = 2.8e12 guesses per private project
_SLUG_ALPHABET = string.ascii_lowercase + string.digits


def _private_slug(slug: str) -> str:
    """A private project's slug: the chosen one plus a random suffix.

    SECURITY: project slugs are unique per organization, so a slug someone
    cannot use tells them a project holds it. A private project is hidden from
    members who are not on it; if its slug were guessable, creating or renaming a
    project to it would answer 409 and reveal the project (an existence oracle).
    With an unguessable suffix, no slug a member can think of is held by a project
    they cannot see, and the database still refuses duplicates. See
    ``docs/decisions/0008-private-project-slugs-are-unguessable.md``.
    """
    suffix = "".join(secrets.choice(_SLUG_ALPHABET) for _ in range(PRIVATE_SLUG_SUFFIX))
    return f"{slug[: 60 - PRIVATE_SLUG_SUFFIX - 1].rstrip('-')}-{suffix}"


def _ensure_may_set_private(project_role: str | None) -> None:
    if PROJECT_RANK.get(project_role or "", 0) < PROJECT_RANK[MANAGER]:
        raise Forbidden("Only org owners and admins can choose a project's visibility.")


@transaction.atomic
def project_create(
    *,
    actor: User,
    organization_id: uuid.UUID,
    actor_project_role: str | None,
    name: str,
    slug: str | None = None,
    description: str = "",
    tags: list[str] | None = None,
    visibility: str = Project.Visibility.ORG,
    settings: dict[str, Any] | None = None,
) -> Project:
    """Create a project. ``created_by`` is recorded; the creator gets no special role.

    A private project's slug gets a random suffix (``_private_slug``): the
    answer tells the caller the slug it got.

    ``actor_project_role`` is the role the actor would hold in a project of the
    organization (``manager`` for org owners and admins). A ``private`` project
    needs it: a member creating one would immediately lose sight of it.
    """
    if visibility == Project.Visibility.PRIVATE:
        _ensure_may_set_private(actor_project_role)
    slug = _slug(slug or name)
    if visibility == Project.Visibility.PRIVATE:
        slug = _private_slug(slug)
    # Billing: refused with 402 over the plan's limit (locks the subscription row).
    quota_check_count(organization_id=organization_id, metric="projects")
    with conflict_on_duplicate(slug_taken(PROJECT_SLUG_TAKEN)):
        project = Project.objects.create(
            organization_id=organization_id,
            name=name,
            slug=slug,
            description=description,
            tags=list(tags or []),
            visibility=visibility,
            settings=settings or {},
            created_by=actor,
        )
    audit_record(
        action="project.created",
        actor=actor,
        organization_id=organization_id,
        target=project,
        changes={"name": name, "slug": slug, "visibility": visibility},
    )
    return project


@transaction.atomic
def project_update(
    *, actor: User, actor_project_role: str | None, project: Project, **fields: Any
) -> Project:
    """Change any of ``name``, ``slug``, ``description``, ``tags``, ``visibility``, ``settings``
    (``settings`` is replaced as a whole). Changing ``visibility`` needs a project manager.
    A project made private, or a private project given a new slug, gets a random slug
    suffix (``_private_slug``)."""
    unknown = set(fields) - set(UPDATABLE_FIELDS)
    if unknown:
        raise Invalid("Unknown fields.", details={name: ["Unknown field."] for name in unknown})
    if "slug" in fields:
        fields["slug"] = _slug(fields["slug"])
    if "visibility" in fields and fields["visibility"] != project.visibility:
        _ensure_may_set_private(actor_project_role)
    becomes_private = fields.get("visibility") == Project.Visibility.PRIVATE != project.visibility
    renamed = "slug" in fields and fields["slug"] != project.slug
    if (becomes_private or renamed) and (
        fields.get("visibility", project.visibility) == Project.Visibility.PRIVATE
    ):
        # A project that becomes private, or a private one renamed, gets an unguessable
        # slug (its old URL stops working): see _private_slug.
        fields["slug"] = _private_slug(fields.get("slug", project.slug))
    changes: dict[str, Any] = {}
    for name in UPDATABLE_FIELDS:
        if name in fields and getattr(project, name) != fields[name]:
            old = getattr(project, name)
            changes[name] = (
                {"changed": True} if name == "settings" else {"from": old, "to": fields[name]}
            )
            setattr(project, name, fields[name])
    if not changes:
        return project
    with conflict_on_duplicate(slug_taken(PROJECT_SLUG_TAKEN)):
        project.save(update_fields=[*changes, "updated_at"])
    audit_record(
        action="project.updated",
        actor=actor,
        organization_id=project.organization_id,
        target=project,
        changes=changes,
    )
    return project


@transaction.atomic
def project_archive(*, actor: User, project: Project) -> Project:
    """Make the project read-only (idempotent: archiving an archived project changes nothing)."""
    if project.archived_at is not None:
        return project
    project.archived_at = timezone.now()
    project.save(update_fields=["archived_at", "updated_at"])
    audit_record(
        action="project.archived",
        actor=actor,
        organization_id=project.organization_id,
        target=project,
    )
    return project


@transaction.atomic
def project_unarchive(*, actor: User, project: Project) -> Project:
    """Make an archived project writable again (idempotent)."""
    if project.archived_at is None:
        return project
    project.archived_at = None
    project.save(update_fields=["archived_at", "updated_at"])
    audit_record(
        action="project.unarchived",
        actor=actor,
        organization_id=project.organization_id,
        target=project,
    )
    return project


@transaction.atomic
def project_delete(*, actor: User, project: Project) -> None:
    """Delete the project and everything in it.

    One ``DELETE`` of the project row; the database cascades to members,
    favorites, files, revisions, snapshots and the rest through the composite
    foreign keys (``migrations/0002_rls.py``). Revisions and snapshots are
    append-only — the runtime roles cannot delete them — but referential
    actions run as the tables' owner, so the cascade can. RLS admits the
    delete for org owners and admins only.
    """
    audit_record(
        action="project.deleted",
        actor=actor,
        organization_id=project.organization_id,
        target=project,
        changes={"name": project.name, "slug": project.slug, "visibility": project.visibility},
    )
    stored = list(
        Asset.objects.filter(organization_id=project.organization_id, project=project).values_list(
            "file", flat=True
        )
    )
    deleted, _ = Project.objects.filter(
        organization_id=project.organization_id, pk=project.pk
    ).delete()
    if not deleted:
        raise Forbidden("Only org owners and admins can delete a project.")
    for name in stored:  # the rows go with the cascade; their files once it commits
        delete_on_commit(name)


# --- favorites -----------------------------------------------------------------------


@transaction.atomic
def favorite_add(*, user: User, project: Project) -> None:
    """Star the project for ``user``. Idempotent, also when two requests race."""
    Favorite.objects.bulk_create(
        [Favorite(organization_id=project.organization_id, project_id=project.pk, user=user)],
        ignore_conflicts=True,
    )


@transaction.atomic
def favorite_remove(*, user: User, project: Project) -> None:
    """Unstar the project for ``user``. Idempotent."""
    Favorite.objects.filter(
        organization_id=project.organization_id, project_id=project.pk, user=user
    ).delete()


# --- project members ---------------------------------------------------------------------


def _org_member(*, organization_id: uuid.UUID, user_ref: str) -> User:
    """The org member named by id or email (case-insensitive), or a 400."""
    memberships = Membership.objects.filter(organization_id=organization_id).select_related("user")
    try:
        membership = memberships.filter(user_id=uuid.UUID(str(user_ref))).first()
    except ValueError:
        membership = memberships.filter(user__email__iexact=str(user_ref).strip()).first()
    if membership is None:
        raise Invalid(
            "Only members of the organization can be added to a project.",
            code="not_org_member",
            details={"user": ["Not a member of this organization."]},
        )
    return membership.user


@transaction.atomic
def project_member_add(*, actor: User, project: Project, user_ref: str, role: str) -> ProjectMember:
    """Give an org member (``user_ref``: user id or email) a role in the project."""
    if role not in ProjectMember.Role.values:
        raise Invalid("Unknown role.", details={"role": ["Unknown role."]})
    user = _org_member(organization_id=project.organization_id, user_ref=user_ref)
    with conflict_on_duplicate(
        Conflict("This person is already on the project.", code="already_project_member")
    ):
        member = ProjectMember.objects.create(
            organization_id=project.organization_id, project=project, user=user, role=role
        )
    audit_record(
        action="project.member_added",
        actor=actor,
        organization_id=project.organization_id,
        target=member,
        changes={"project": str(project.pk), "user": str(user.pk), "role": role},
    )
    return member


@transaction.atomic
def project_member_change_role(*, actor: User, member: ProjectMember, role: str) -> ProjectMember:
    if role not in ProjectMember.Role.values:
        raise Invalid("Unknown role.", details={"role": ["Unknown role."]})
    if member.role == role:
        return member
    previous = member.role
    updated = ProjectMember.objects.filter(
        organization_id=member.organization_id, pk=member.pk
    ).update(role=role)
    if not updated:
        raise NotFound("This person is no longer on the project.")
    member.role = role
    audit_record(
        action="project.member_role_changed",
        actor=actor,
        organization_id=member.organization_id,
        target=member,
        changes={
            "project": str(member.project_id),
            "user": str(member.user_id),
            "role": {"from": previous, "to": role},
        },
    )
    return member


@transaction.atomic
def project_member_remove(*, actor: User, member: ProjectMember) -> None:
    """Take the per-project role away; the user falls back to their org role's default."""
    deleted, _ = ProjectMember.objects.filter(
        organization_id=member.organization_id, pk=member.pk
    ).delete()
    if not deleted:
        raise NotFound("This person is no longer on the project.")
    audit_record(
        action="project.member_removed",
        actor=actor,
        organization_id=member.organization_id,
        target=member,
        changes={
            "project": str(member.project_id),
            "user": str(member.user_id),
            "role": member.role,
        },
    )
