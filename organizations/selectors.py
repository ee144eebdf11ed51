"""Reads used by the API and the admin. Each takes its tenant explicitly."""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import User
from organizations.models import Invitation, Membership, Organization
from organizations.permissions import Role


def organization_get(organization_id: uuid.UUID) -> Organization:
    return Organization.objects.get(id=organization_id)


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organization")


def members_of(*, organization_id: uuid.UUID) -> QuerySet[Membership]:
    return Membership.objects.filter(organization_id=organization_id).select_related("user")


def invitations_of(*, organization_id: uuid.UUID) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization_id=organization_id).select_related("invited_by")


def organizations_only_owned_by(*, user: User) -> list[Organization]:
    """Organizations whose only owner is ``user`` (who therefore cannot leave them)."""
    other_owners = Membership.objects.filter(
        organization_id=OuterRef("organization_id"), role=Role.OWNER
    ).exclude(user=user)
    return [
        m.organization
        for m in Membership.objects.filter(user=user, role=Role.OWNER)
        .exclude(Exists(other_owners))
        .select_related("organization")
        .order_by("organization__slug")
    ]
