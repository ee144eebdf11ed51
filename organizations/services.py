"""Every write to organizations, memberships and invitations.

Each function runs in one transaction, checks the rules the permission matrix
cannot express (only owners touch owners; an organization keeps an owner),
writes, and records the audit event in the same transaction. Permission to
perform the *action* at all was checked by the API base view; the database
checks it a third time through RLS.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from accounts.services import require_verified_email
from audit.services import audit_record
from config.errors import Conflict, Forbidden, Invalid, NotFound, conflict_on_duplicate, slug_taken
from organizations import hooks
from organizations.models import Invitation, Membership, Organization
from organizations.permissions import Role, outranks_or_equals
from organizations.tenancy import ensure_writable, service_context, staff_acting

RESERVED_SLUGS = frozenset({"admin", "api", "new", "me", "settings", "static", "www"})


def _validate_slug(slug: str) -> str:
    slug = slugify(slug)[:50]
    if not slug or slug in RESERVED_SLUGS:
        raise Invalid("This slug is not allowed.", details={"slug": ["This slug is not allowed."]})
    return slug


def organization_create(*, actor: User, name: str, slug: str | None = None) -> Organization:
    """Create an organization; ``actor`` becomes its first owner."""
    require_verified_email(user=actor, action="organization.create")
    slug = _validate_slug(slug or name)
    # The creator is not a member yet, so no tenant policy can admit the insert.
    with service_context(reason="organization create", actor=actor):
        with conflict_on_duplicate(slug_taken()):
            org = Organization.objects.create(name=name, slug=slug)
        membership = Membership.objects.create(organization=org, user=actor, role=Role.OWNER)
        # Higher apps answer here, in this transaction (billing: the free subscription).
        hooks.run(hooks.ORGANIZATION_CREATED, organization=org, actor=actor)
        audit_record(
            action="org.created",
            actor=actor,
            organization_id=org.id,
            target=org,
            changes={"name": name, "slug": slug},
        )
        audit_record(
            action="member.joined",
            actor=actor,
            organization_id=org.id,
            target=membership,
            changes={"role": Role.OWNER, "user": str(actor.id)},
        )
    return org


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, **fields: Any) -> Organization:
    """Change ``name``, ``slug`` and/or ``require_mfa``.

    Requiring MFA needs the actor to have it on (they would lock themselves out).
    """
    changes: dict[str, Any] = {}
    if "slug" in fields:
        fields["slug"] = _validate_slug(fields["slug"])
    if fields.get("require_mfa") and not actor.mfa_enabled:
        raise Forbidden(
            "Turn on two-factor authentication for your own account first.",
            code="mfa_required",
            details={"require_mfa": ["Turn on two-factor authentication first."]},
        )
    for name in ("name", "slug", "require_mfa"):
        if name in fields and getattr(organization, name) != fields[name]:
            changes[name] = {"from": getattr(organization, name), "to": fields[name]}
            setattr(organization, name, fields[name])
    if not changes:
        return organization
    with conflict_on_duplicate(slug_taken()):
        organization.save(update_fields=[*changes, "updated_at"])
    audit_record(
        action="org.updated",
        actor=actor,
        organization_id=organization.id,
        target=organization,
        changes=changes,
    )
    return organization


@transaction.atomic
def organization_delete(*, actor: User, organization: Organization) -> None:
    """Delete the organization and everything in it. Its audit trail stays.

    The policies admit each statement only while the actor's membership still
    exists, so the order matters: audit event, then the organization row (the
    database checks that the actor is an owner), then its invitations, and the
    memberships last. Foreign keys are deferred to commit, so deleting the
    parent first is fine. (``Model.delete()`` deletes the memberships first,
    after which RLS silently hides the organization row: nothing was deleted.)
    The files its rows name in storage are deleted once the transaction commits.
    """
    from organizations.operations.files import delete_files_on_commit, organization_stored_files

    org_id = organization.id
    # SECURITY: read every file name past RLS (a row the actor cannot see still names
    # a file that must go); the deletion below is still the actor's, checked by RLS.
    with service_context(reason="organization delete: list its stored files", actor=actor):
        files = organization_stored_files(org_id)
    audit_record(
        action="org.deleted",
        actor=actor,
        organization_id=org_id,
        target=organization,
        changes={"slug": organization.slug},
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM organizations_organization WHERE id = %s", [org_id])
        deleted = cursor.rowcount
    if deleted != 1:
        raise Forbidden("Only an owner can delete the organization.")
    Invitation.objects.filter(organization_id=org_id).delete()
    Membership.objects.filter(organization_id=org_id).delete()
    delete_files_on_commit(files)  # the rows went with the cascade; their files after commit


@transaction.atomic
def organization_set_suspended(
    *, actor: User, organization: Organization, suspended: bool, reason: str = ""
) -> None:
    """Staff only (admin): a suspended organization is read-only. ``reason`` (the support
    console asks for one) is recorded with the audit event."""
    organization.suspended_at = timezone.now() if suspended else None
    organization.save(update_fields=["suspended_at", "updated_at"])
    audit_record(
        action="org.suspended" if suspended else "org.unsuspended",
        actor=actor,
        organization_id=organization.id,
        target=organization,
        actor_type="staff",
        changes={"reason": reason} if reason else None,
    )


def _lock_owners(organization_id: Any) -> list[Membership]:
    """Lock the organization's owner rows: the last-owner rule is checked under this lock,
    so two requests racing to demote or remove the last two owners cannot both win."""
    return list(
        Membership.objects.select_for_update()
        .filter(organization_id=organization_id, role=Role.OWNER)
        .order_by("id")
    )


def _ensure_owner_rules(
    *, actor: User, membership: Membership, new_role: str | None, refusal: str
) -> None:
    """Check the owner rules again, under the owners' lock, against the rows as they are now.

    ``membership`` is about to get ``new_role`` (``None``: it is about to be deleted).
    The roles the request was authorized with were read before the lock: since then
    a concurrent request may have demoted the actor or promoted the target. So:

    * if the owner role is given or taken, the actor must *still* be an owner;
    * an organization's only owner cannot stop being one.
    """
    owners = _lock_owners(membership.organization_id)
    try:
        membership.refresh_from_db(fields=["role"])
    except Membership.DoesNotExist:  # removed (or left) meanwhile
        raise NotFound("This person is no longer a member.") from None
    touches_owner = Role.OWNER in (membership.role, new_role)
    # Staff in the admin act with the organization's full authority.
    if touches_owner and not staff_acting() and not any(o.user_id == actor.pk for o in owners):
        raise Forbidden(refusal)
    loses_owner = membership.role == Role.OWNER and new_role != Role.OWNER
    if loses_owner and all(o.id == membership.id for o in owners):
        raise Conflict(
            "An organization needs at least one owner; make someone else owner first.",
            code="last_owner",
        )


@transaction.atomic
def member_change_role(
    *, actor: User, actor_role: str, membership: Membership, role: str
) -> Membership:
    if role not in Role.values:
        raise Invalid("Unknown role.", details={"role": ["Unknown role."]})
    refusal = "Only an owner can grant or take away the owner role."
    if not (
        outranks_or_equals(actor_role, membership.role) and outranks_or_equals(actor_role, role)
    ):
        raise Forbidden(refusal)
    if membership.role == role:
        return membership
    _ensure_owner_rules(actor=actor, membership=membership, new_role=role, refusal=refusal)
    if membership.role == role:
        return membership
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        action="member.role_changed",
        actor=actor,
        organization_id=membership.organization_id,
        target=membership,
        changes={"role": {"from": previous, "to": role}, "user": str(membership.user_id)},
    )
    return membership


@transaction.atomic
def member_remove(*, actor: User, actor_role: str, membership: Membership) -> None:
    refusal = "Only an owner can remove an owner."
    if not outranks_or_equals(actor_role, membership.role):
        raise Forbidden(refusal)
    _ensure_owner_rules(actor=actor, membership=membership, new_role=None, refusal=refusal)
    audit_record(
        action="member.removed",
        actor=actor,
        organization_id=membership.organization_id,
        target=membership,
        changes={"user": str(membership.user_id), "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def member_leave(*, user: User, organization_id: Any) -> None:
    membership = Membership.objects.filter(organization_id=organization_id, user=user).first()
    if membership is None:
        raise NotFound("You are not a member of this organization.")
    _ensure_owner_rules(
        actor=user, membership=membership, new_role=None, refusal="You are not an owner."
    )
    audit_record(
        action="member.left",
        actor=user,
        organization_id=organization_id,
        target=membership,
        changes={"role": membership.role},
    )
    membership.delete()


@transaction.atomic
def user_delete(*, actor: User, user: User) -> None:
    """Delete ``user`` for good: staff in the admin (whose service context reaches every
    organization).

    Each membership ends under the owner rules — refused while ``user`` is an
    organization's only owner — and is recorded in that organization's trail; the
    deletion itself in the platform's. What the user wrote stays: Django sets the
    ``created_by``-style references to NULL, the database those of append-only rows
    (file revisions, snapshots: ``projects`` migration 0006). Audit events keep the
    actor's id and email.
    """
    for membership in Membership.objects.filter(user=user).order_by("organization_id"):
        _ensure_owner_rules(
            actor=actor,
            membership=membership,
            new_role=None,
            refusal="Only an owner can remove an owner.",
        )
        audit_record(
            action="member.removed",
            actor=actor,
            organization_id=membership.organization_id,
            target=membership,
            changes={"user": str(user.pk), "role": membership.role, "user_deleted": True},
        )
    audit_record(
        action="staff.user_deleted", actor=actor, target=user, changes={"email": user.email}
    )
    user.delete()


# --- invitations -----------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_mint_token(invitation: Invitation) -> str:
    """Give the invitation a fresh token (the old link stops working); return it."""
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    invitation.sent_at = timezone.now()
    invitation.send_count += 1
    invitation.save(update_fields=["token_hash", "sent_at", "send_count", "updated_at"])
    return token


def _schedule_invitation_email(invitation: Invitation) -> None:
    from organizations.tasks import send_invitation_email

    invitation_id = str(invitation.id)
    transaction.on_commit(lambda: send_invitation_email.enqueue(invitation_id))


@transaction.atomic
def invitation_create(
    *, actor: User, actor_role: str, organization_id: Any, email: str, role: str
) -> Invitation:
    email = email.strip().lower()
    if not outranks_or_equals(actor_role, role):
        raise Forbidden("Only an owner can invite an owner.")
    if role == Role.OWNER and not any(o.user_id == actor.pk for o in _lock_owners(organization_id)):
        # Re-checked under the owners' lock: the actor may have been demoted since the
        # request was authorized.
        raise Forbidden("Only an owner can invite an owner.")
    if Membership.objects.filter(
        organization_id=organization_id, user__email__iexact=email
    ).exists():
        raise Conflict("This person is already a member.", code="already_member")
    # Higher apps may refuse here (billing: members + open invitations against the plan).
    hooks.run(hooks.MEMBERS_ADDING, organization_id=organization_id, adding=1)
    with conflict_on_duplicate(
        Conflict(
            "There is already an open invitation for this address; resend it instead.",
            code="invitation_exists",
        )
    ):
        invitation = Invitation.objects.create(
            organization_id=organization_id,
            email=email,
            role=role,
            invited_by=actor,
            expires_at=timezone.now() + settings.INVITATION_TTL,
        )
    audit_record(
        action="member.invited",
        actor=actor,
        organization_id=organization_id,
        target=invitation,
        changes={"email": email, "role": role},
    )
    _schedule_invitation_email(invitation)
    return invitation


def _ensure_open(invitation: Invitation) -> None:
    if invitation.accepted_at or invitation.revoked_at:
        raise Conflict(f"This invitation is {invitation.status}.", code="invitation_closed")


@transaction.atomic
def invitation_resend(*, actor: User, invitation: Invitation) -> Invitation:
    """Send a new link and restart the expiry clock.

    An expired invitation no longer holds a seat (``app.billing_count`` counts open,
    unexpired invitations), so resending it takes one again: it is checked against
    the ``members`` quota exactly like a new invitation (402 ``quota_exceeded``).
    """
    _ensure_open(invitation)
    if invitation.expires_at <= timezone.now():
        # SECURITY: without this check, expiring and resending invitations grew an
        # organization past its members limit (issue 17 §5: 18 of 10).
        hooks.run(hooks.MEMBERS_ADDING, organization_id=invitation.organization_id, adding=1)
    invitation.expires_at = timezone.now() + settings.INVITATION_TTL
    invitation.save(update_fields=["expires_at", "updated_at"])
    audit_record(
        action="invitation.resent",
        actor=actor,
        organization_id=invitation.organization_id,
        target=invitation,
        changes={"email": invitation.email},
    )
    _schedule_invitation_email(invitation)
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    _ensure_open(invitation)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        action="invitation.revoked",
        actor=actor,
        organization_id=invitation.organization_id,
        target=invitation,
        changes={"email": invitation.email},
    )
    return invitation


def invitation_accept(*, user: User, token: str) -> Membership:
    """Join the organization an invitation is for. The invitee is not a member
    yet, so the lookup by token runs in the service context."""
    require_verified_email(user=user, action="invitation.accept")
    with service_context(reason="invitation accept", actor=user):
        invitation = (
            Invitation.objects.select_for_update().filter(token_hash=hash_token(token)).first()
            if token
            else None
        )
        if invitation is None or invitation.revoked_at:
            raise NotFound("This invitation link is not valid.", code="invitation_invalid")
        if invitation.accepted_at:
            raise Conflict("This invitation was already used.", code="invitation_closed")
        if invitation.expires_at <= timezone.now():
            raise Invalid(
                "This invitation has expired; ask for a new one.", code="invitation_expired"
            )
        if invitation.email.lower() != user.email.lower():
            raise Forbidden(
                "This invitation was sent to another email address.",
                code="invitation_email_mismatch",
            )
        # No base view guards this write (the invitee is not a member yet).
        ensure_writable(organization_id=invitation.organization_id, user_id=user.pk)
        membership, created = Membership.objects.get_or_create(
            organization_id=invitation.organization_id,
            user=user,
            defaults={"role": invitation.role},
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
        if created:
            audit_record(
                action="member.joined",
                actor=user,
                organization_id=invitation.organization_id,
                target=membership,
                changes={"role": membership.role, "invitation": str(invitation.id)},
            )
    return membership


def invitations_for_invitee(*, user: User) -> list[Invitation]:
    """Open invitations to ``user``'s address, once that address is verified.

    The invitee is not a member of those organizations, so the read runs in
    the service context, limited to the verified address.
    """
    if user.email_verified_at is None:
        return []
    with service_context(reason="list my invitations", actor=user):
        return list(
            Invitation.objects.pending()
            .filter(email__iexact=user.email)
            .select_related("organization", "invited_by")
            .order_by("-created_at", "-id")[:100]
        )


def invitation_decline(*, user: User, invitation_id: Any) -> Invitation:
    """The invitee turns an invitation down: it is closed (like a revocation) and audited."""
    with service_context(reason="invitation decline", actor=user):
        invitation = (
            Invitation.objects.select_for_update()
            .filter(id=invitation_id, email__iexact=user.email)
            .first()
            if user.email_verified_at is not None
            else None
        )
        if invitation is None:
            raise NotFound("Not found.")
        _ensure_open(invitation)
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            action="invitation.declined",
            actor=user,
            organization_id=invitation.organization_id,
            target=invitation,
            changes={"email": invitation.email},
        )
    return invitation
