"""Demo organizations: ``acme`` (one member per role) and ``globex``, with invitations."""

from __future__ import annotations

from typing import Any

from organizations.models import Invitation, Membership, Organization
from organizations.permissions import Role
from organizations.services import invitation_create, organization_create

DEMO_ORGS = {
    "acme": (
        "Acme Corporation",
        [
            ("owner@acme.test", Role.OWNER),
            ("admin@acme.test", Role.ADMIN),
            ("member@acme.test", Role.MEMBER),
            ("viewer@acme.test", Role.VIEWER),
            ("billing@acme.test", Role.BILLING),
        ],
        [("new.hire@acme.test", Role.MEMBER), ("contractor@acme.test", Role.VIEWER)],
    ),
    "globex": (
        "Globex Corporation",
        [("owner@globex.test", Role.OWNER), ("member@globex.test", Role.MEMBER)],
        [("analyst@globex.test", Role.MEMBER)],
    ),
}


def seed_demo(ctx: dict[str, Any]) -> None:
    users = ctx["users"]
    for slug, (name, members, invites) in DEMO_ORGS.items():
        owner = users[members[0][0]]
        org = Organization.objects.filter(slug=slug).first() or organization_create(
            actor=owner, name=name, slug=slug
        )
        for email, role in members[1:]:
            Membership.objects.get_or_create(
                organization=org, user=users[email], defaults={"role": role}
            )
        for email, role in invites:
            if not Invitation.objects.filter(organization=org, email=email).exists():
                invitation_create(
                    actor=owner,
                    actor_role=Role.OWNER,
                    organization_id=org.id,
                    email=email,
                    role=role,
                )
