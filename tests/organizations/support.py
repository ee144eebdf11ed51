"""Small builders and readers shared by the organization tests."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from organizations.models import Invitation, Membership, Organization
from organizations.permissions import Role
from organizations.services import invitation_mint_token
from organizations.tenancy import service_context

ORGS = "/api/v1/orgs/"
DEFAULT_TTL = timezone.timedelta(days=3)
ACCEPT = "/api/v1/invitations/accept/"


def org_url(slug: str = "acme", rest: str = "") -> str:
    return f"{ORGS}{slug}/{rest}"


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def audit_actions(organization_id: Any) -> list[str]:
    """The organization's audit actions in order, read past RLS."""
    with service_context(reason="test read of the audit trail"):
        return list(
            AuditEvent.objects.filter(organization_id=organization_id)
            .order_by("sequence")
            .values_list("action", flat=True)
        )


def org_exists(slug: str) -> bool:
    with service_context(reason="test lookup"):
        return Organization.objects.filter(slug=slug).exists()


def roles_in(org: Organization) -> dict[str, str]:
    """email -> role of every member of ``org``."""
    with service_context(reason="test lookup"):
        return dict(Membership.objects.filter(organization=org).values_list("user__email", "role"))


def membership_of(org: Organization, user: Any) -> Membership:
    with service_context(reason="test lookup"):
        return Membership.objects.get(organization=org, user=user)


def make_invitation(
    org: Organization,
    email: str,
    *,
    role: str = Role.MEMBER,
    invited_by: Any = None,
    expires_in: timezone.timedelta = DEFAULT_TTL,
    **fields: Any,
) -> Invitation:
    with service_context(reason="test fixture"):
        return Invitation.objects.create(
            organization=org,
            email=email,
            role=role,
            invited_by=invited_by,
            expires_at=timezone.now() + expires_in,
            **fields,
        )


def mint_token(invitation: Invitation) -> str:
    """What the email task does: give the invitation a token and return it."""
    with service_context(reason="test fixture"):
        return invitation_mint_token(invitation)


def invitation_by_id(invitation_id: Any) -> Invitation:
    with service_context(reason="test lookup"):
        return Invitation.objects.get(id=invitation_id)


def reload_invitation(invitation: Invitation) -> Invitation:
    return invitation_by_id(invitation.id)


def invitation_exists(invitation: Invitation) -> bool:
    with service_context(reason="test lookup"):
        return Invitation.objects.filter(id=invitation.id).exists()


def run_worker() -> None:
    """Run every queued task in this process, then return (the real worker command).

    The worker installs its own SIGINT/SIGTERM handlers and leaves them behind;
    they are put back so the test runner still stops when told to.
    """
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {signum: signal.getsignal(signum) for signum in signals}
    try:
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
