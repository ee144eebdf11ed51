"""Every write to AI records: conversations, their messages, generations.

Calling a model is the integrations' job; here are the records and the
generation lifecycle::

    queued -> running -> succeeded | failed
    queued | running  -> canceled

Any other move is a 409 ``invalid_transition``. ``started_at`` is set on
``running``; ``finished_at`` and ``duration_ms`` (from ``started_at``) on a
final status; ``failed`` needs an ``error``. The status is checked and
changed under a row lock, so two racing updates cannot both move it.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Conflict, Invalid, NotFound
from projects.models import Conversation, Generation, Message, Project

Status = Generation.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELED}),
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED}),
}
FINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED})
# Characters of a message kept in its audit event (``chat_message.created``, on the feed).
MESSAGE_PREVIEW = 500


# --- conversations ----------------------------------------------------------------------


@transaction.atomic
def conversation_create(*, actor: User, project: Project, title: str = "") -> Conversation:
    return Conversation.objects.create(
        organization_id=project.organization_id,
        project_id=project.pk,
        title=title,
        created_by=actor,
    )


@transaction.atomic
def conversation_update(*, actor: User, conversation: Conversation, title: str) -> Conversation:
    if conversation.title != title:
        conversation.title = title
        conversation.save(update_fields=["title", "updated_at"])
    return conversation


@transaction.atomic
def conversation_delete(*, actor: User, conversation: Conversation) -> None:
    """Delete a conversation and its messages (the database cascades); generations
    that referred to it stay, unlinked."""
    audit_record(
        action="conversation.deleted",
        actor=actor,
        organization_id=conversation.organization_id,
        target=conversation,
        changes={"project": str(conversation.project_id), "title": conversation.title},
    )
    deleted, _ = Conversation.objects.filter(
        organization_id=conversation.organization_id, id=conversation.id
    ).delete()
    if not deleted:
        raise NotFound("This conversation does not exist.")


@transaction.atomic
def message_create(
    *,
    actor: User,
    conversation: Conversation,
    role: str,
    content: str,
    model: str = "",
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
) -> Message:
    """Append a message; the conversation's ``updated_at`` moves with it."""
    message = Message.objects.create(
        organization_id=conversation.organization_id,
        project_id=conversation.project_id,
        conversation_id=conversation.id,
        role=role,
        content=content,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        author=actor,
    )
    Conversation.objects.filter(
        organization_id=conversation.organization_id, id=conversation.id
    ).update(updated_at=timezone.now())
    audit_record(
        action="chat_message.created",
        actor=actor,
        organization_id=conversation.organization_id,
        target=message,
        changes={
            "project": str(conversation.project_id),
            "conversation": str(conversation.id),
            "role": role,
            # A preview: the audit trail is the feed's log, not the message store.
            "content": content[:MESSAGE_PREVIEW],
            "length": len(content),
        },
    )
    return message


# --- generations --------------------------------------------------------------------------


@transaction.atomic
def generation_create(
    *,
    actor: User,
    project: Project,
    prompt: str,
    model: str,
    conversation_id: uuid.UUID | None = None,
) -> Generation:
    """Record a generation request (status ``queued``)."""
    if (
        conversation_id is not None
        and not Conversation.objects.filter(
            organization_id=project.organization_id, project_id=project.pk, id=conversation_id
        ).exists()
    ):
        raise Invalid(
            "The conversation is not in this project.",
            details={"conversation": ["No such conversation in this project."]},
        )
    generation = Generation.objects.create(
        organization_id=project.organization_id,
        project_id=project.pk,
        conversation_id=conversation_id,
        prompt=prompt,
        model=model,
        created_by=actor,
    )
    audit_record(
        action="generation.created",
        actor=actor,
        organization_id=project.organization_id,
        target=generation,
        changes={
            "project": str(project.pk),
            "model": model,
            "conversation": str(conversation_id) if conversation_id else None,
        },
    )
    return generation


@transaction.atomic
def generation_update(
    *,
    actor: User | None,
    generation: Generation,
    status: str,
    output: str | None = None,
    tokens_in: int | None = None,
    tokens_out: int | None = None,
    error: str | None = None,
) -> Generation:
    """Move a generation to ``status`` (see the module docstring), recording its results."""
    locked = (
        Generation.objects.select_for_update()
        .filter(organization_id=generation.organization_id, id=generation.id)
        .first()
    )
    if locked is None:
        raise NotFound("This generation does not exist.")
    if status not in TRANSITIONS.get(locked.status, frozenset()):
        raise Conflict(
            f"A {locked.status} generation cannot become {status}.",
            code="invalid_transition",
            details={"status": [f"Not allowed from {locked.status}."]},
        )
    if status == Status.FAILED and not (error or "").strip():
        raise Invalid(
            "A failed generation needs an error.",
            details={"error": ["Required when the status is failed."]},
        )
    if status != Status.FAILED and error:
        raise Invalid(
            "Only a failed generation has an error.",
            details={"error": ["Only allowed when the status is failed."]},
        )
    now = timezone.now()
    fields = ["status", "updated_at"]
    locked.status = status
    if status == Status.RUNNING:
        locked.started_at = now
        fields.append("started_at")
    if status in FINAL:
        locked.finished_at = now
        locked.duration_ms = (
            int((now - locked.started_at).total_seconds() * 1000) if locked.started_at else None
        )
        fields += ["finished_at", "duration_ms"]
    for name, value in (
        ("output", output),
        ("tokens_in", tokens_in),
        ("tokens_out", tokens_out),
        ("error", error),
    ):
        if value is not None:
            setattr(locked, name, value)
            fields.append(name)
    locked.save(update_fields=fields)
    if status in FINAL:
        audit_record(
            action="generation.finished",
            actor=actor,
            organization_id=locked.organization_id,
            target=locked,
            changes={
                "project": str(locked.project_id),
                "status": status,
                "model": locked.model,
                "tokens_in": locked.tokens_in,
                "tokens_out": locked.tokens_out,
                "duration_ms": locked.duration_ms,
            },
        )
    return locked
