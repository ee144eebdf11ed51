"""The append-only audit trail.

Rows are written by services in the same transaction as the change they
describe. The database keeps them honest: the runtime roles have no UPDATE,
DELETE or TRUNCATE on the table, and a trigger assigns each organization's
events a gap-free ``sequence`` and a sha256 hash chain
(``hash = sha256(prev_hash || canonical row)``) that ``manage.py
audit_verify`` recomputes.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

# The reserved platform organization (ADR 0013): on a Citus cluster the audit table is
# distributed by organization_id (NOT NULL), so events that belong to no tenant (platform
# events, operator commands such as ``rebalance``) are chained there instead of under
# NULL. ``citus_distribute`` creates its row (slug ``_platform``, which no slug the
# services accept can equal: slugify strips a leading underscore; suspended; no members).
# The single node keeps NULL until the signed-claim step unifies both.
PLATFORM_ORGANIZATION_ID = uuid.UUID(int=1)
PLATFORM_ORGANIZATION_SLUG = "_platform"


class AuditEvent(models.Model):
    class ActorType(models.TextChoices):
        USER = "user"
        STAFF = "staff"
        API_KEY = "api_key"
        SYSTEM = "system"

    # Runtime roles may only SELECT and INSERT (see grant_runtime_privileges).
    append_only = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # NULL for platform events (sign-ins, privilege elevation) that belong to no tenant.
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    sequence = models.BigIntegerField(editable=False, default=0)
    action = models.CharField(max_length=80)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.USER)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=254, blank=True, help_text="Email or key name at the time."
    )
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(editable=False)
    prev_hash = models.CharField(max_length=64, editable=False, blank=True)
    hash = models.CharField(max_length=64, editable=False, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "sequence"],
                name="auditevent_org_sequence",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "-created_at", "-id"], name="auditevent_org_created_idx"
            ),
            models.Index(fields=["organization", "action"], name="auditevent_org_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} #{self.sequence}"
