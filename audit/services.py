"""Writing and checking the audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from audit import events
from audit.models import PLATFORM_ORGANIZATION_ID, AuditEvent
from config.api.request_context import current_client, current_request_id
from organizations.acting import staff_acting


def audit_record(
    *,
    action: str,
    actor: Any = None,
    organization_id: uuid.UUID | None = None,
    target: Any = None,
    target_type: str = "",
    target_id: str = "",
    changes: dict[str, Any] | None = None,
    actor_type: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> AuditEvent:
    """Append one event. Call it inside the transaction of the change it describes.

    ``target`` (a model instance) fills ``target_type``/``target_id``. The
    database trigger assigns ``sequence``, ``prev_hash`` and ``hash``. On a Citus
    cluster an event of no organization is chained under the reserved platform
    organization (``PLATFORM_ORGANIZATION_ID``, ADR 0013).
    """
    if organization_id is None and settings.DATABASE_CITUS:
        organization_id = PLATFORM_ORGANIZATION_ID
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    # A request authenticated by an API key: its user is the key's creator with the
    # key attached (integrations.apikeys); the event names the key as the actor.
    api_key = getattr(actor, "api_key", None)
    if actor_type is None:
        if api_key is not None:
            actor_type = AuditEvent.ActorType.API_KEY
        elif actor is None:
            actor_type = AuditEvent.ActorType.SYSTEM
        elif getattr(actor, "is_staff", False) and staff_acting():
            actor_type = AuditEvent.ActorType.STAFF
        else:
            actor_type = AuditEvent.ActorType.USER
    ip, user_agent = current_client()
    event = AuditEvent(
        organization_id=organization_id,
        action=action,
        actor_type=actor_type,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=(f"api_key:{api_key.id}" if api_key else getattr(actor, "email", "")) or "",
        target_type=target_type,
        target_id=target_id,
        changes=changes or {},
        ip_address=ip,
        user_agent=user_agent,
        request_id=current_request_id() if current_request_id() != "-" else "",
        created_at=timezone.now(),
    )
    event.save(using=using, force_insert=True)
    # The events seam: subscribers (outbound webhooks, ...) get the event after commit.
    events.announce_on_commit(event, using=using)
    return event


@dataclass(frozen=True)
class ChainProblem:
    organization_id: uuid.UUID | None
    sequence: int
    problem: str


def audit_verify(*, using: str = DEFAULT_DB_ALIAS) -> tuple[int, list[ChainProblem]]:
    """Recompute every chain; return (events checked, problems). Needs a role that sees all rows."""
    problems: list[ChainProblem] = []
    checked = 0
    with connections[using].cursor() as cursor:
        # NOTE: the rows are gathered first and hashed where app.audit_hash is defined for
        # the table's row type. On a Citus cluster ``app.audit_hash(e)`` over the table is
        # pushed to the shards, where ``e`` is a shard's row type (audit_auditevent_102070)
        # and the function does not exist; the materialized CTE is collected on the
        # coordinator and cast back to audit_auditevent. One query for both deployments.
        cursor.execute(
            """
            WITH e AS MATERIALIZED (SELECT * FROM audit_auditevent)
            SELECT organization_id, sequence, prev_hash, hash, app.audit_hash(e::audit_auditevent)
              FROM e
             ORDER BY organization_id NULLS FIRST, sequence
            """
        )
        last_org: object = object()
        last_seq, last_hash = 0, ""
        for org_id, seq, prev_hash, stored, expected in cursor:
            checked += 1
            if org_id != last_org:
                last_org, last_seq, last_hash = org_id, 0, ""
            if seq != last_seq + 1:
                problems.append(ChainProblem(org_id, seq, f"sequence gap after {last_seq}"))
            if prev_hash != last_hash:
                problems.append(
                    ChainProblem(org_id, seq, "prev_hash does not match the previous event")
                )
            if stored != expected:
                problems.append(
                    ChainProblem(org_id, seq, "hash does not match the event's content")
                )
            last_seq, last_hash = seq, stored
    return checked, problems
