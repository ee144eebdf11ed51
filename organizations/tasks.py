"""Background work for organizations (Django Tasks API, database backend)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django_tasks import task

from organizations.models import Invitation
from organizations.tenancy import OrganizationSuspended, ensure_writable, service_context


@task()
def send_invitation_email(invitation_id: str) -> str:
    """Mint the invitation's token and email the link.

    SECURITY: the token is created here, where it is delivered, so it never
    sits in the task queue or anywhere else in plain text.
    """
    from organizations.services import invitation_mint_token

    with service_context(reason="send invitation email"):
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("organization", "invited_by")
            .filter(id=invitation_id)
            .first()
        )
        if invitation is None or invitation.status != Invitation.Status.PENDING:
            return "skipped"
        try:
            ensure_writable(suspended=invitation.organization.suspended_at is not None)
        except OrganizationSuspended:
            # Nothing is written for a suspended organization; once the suspension
            # is lifted, "resend" sends a fresh link.
            return "skipped: organization suspended"
        token = invitation_mint_token(invitation)
        context = {
            "invitation": invitation,
            "organization": invitation.organization,
            "inviter": invitation.invited_by,
            "accept_url": f"{settings.FRONTEND_URL}/invitations/accept?token={token}",
        }
        send_mail(
            subject=f"You are invited to join {invitation.organization.name}",
            message=render_to_string("emails/invitation.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[invitation.email],
        )
    return "sent"
