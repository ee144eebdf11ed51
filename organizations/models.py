"""Tenants: organizations, their members with roles, and invitations.

Every tenant table carries ``organization_id`` and is guarded by RLS policies
written in raw SQL (``migrations/0002_rls.py``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from organizations.permissions import Role


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True)
    suspended_at = models.DateTimeField(
        null=True, blank=True, help_text="A suspended organization is read-only."
    )
    require_mfa = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Members without two-factor authentication are refused (403 mfa_required).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class TenantModel(models.Model):
    """Base of every table that belongs to one organization.

    ``organization_id`` is on every row, even deep children, so every policy
    and index has the same shape. Django does not cascade or constrain the
    references itself (``DO_NOTHING``, ``db_constraint=False``): each app's RLS
    migration adds composite ``(organization_id, parent_id)`` foreign keys with
    ``ON DELETE CASCADE``, so a row can never point into another tenant and
    deletes cascade in the database (append-only children included).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "id"], name="%(app_label)s_%(class)s_org_id_key"
            )
        ]


def tenant_fk(to: str, *, null: bool = False, related_name: str = "+") -> models.ForeignKey:
    """A reference to another row of the same tenant (see :class:`TenantModel`)."""
    return models.ForeignKey(
        to,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=null,
        blank=null,
        related_name=related_name,
    )


def user_fk(**kwargs: object) -> models.ForeignKey:
    """Who created or changed a row (users are global, not tenant rows): cleared when the
    user is deleted."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        **kwargs,
    )


def append_only_user_fk() -> models.ForeignKey:
    """The author of a row in an append-only table: set to NULL when the user is deleted,
    by the database (an ``ON DELETE SET NULL`` constraint the app's migration adds), not
    by Django. Django's ``SET_NULL`` is an UPDATE as the current role, and the runtime
    roles - elevated too - may not UPDATE append-only tables; the constraint's action
    runs as the table's owner."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_unique_org_user"
            ),
            models.UniqueConstraint(fields=["organization", "id"], name="membership_org_id_key"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "organization"], name="membership_user_org_idx"),
            # The members list: newest first within one organization.
            models.Index(
                fields=["organization", "-created_at", "-id"], name="membership_org_created_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.email} in {self.organization.slug} as {self.role}"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REVOKED = "revoked"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # SECURITY: only the sha256 of the token is stored; the token itself exists
    # only in the email (it is minted by the task that sends it).
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    send_count = models.PositiveIntegerField(default=0)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        constraints = [
            # One open invitation per address per organization.
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_unique_open_email",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="invitation_role_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="invitation_org_created_idx")
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.organization.slug}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING
