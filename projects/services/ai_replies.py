"""Real AI replies for conversations and generations, through the integrations'
AI gateway (:mod:`integrations.ai`).

* :func:`conversation_reply` appends the caller's message, asks the provider with the
  conversation's history, and appends the assistant's reply — recorded as a
  generation too (``succeeded``, with the provider's token usage);
* :func:`conversation_reply_start` / :func:`conversation_reply_finish` are the same
  in two steps, for a reply streamed to the client as server-sent events: the first
  runs in the request's transaction, the second after it, once the stream ends;
* :func:`generation_run` runs a queued generation (its prompt as one user message).

A provider failure raises :class:`integrations.ai.ProviderError` (sanitized: no key,
no provider body). Without streaming the request's transaction is rolled back with
it; a streamed reply records the generation as ``failed`` with that same message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from accounts.models import User
from config.errors import DomainError
from integrations import ai
from projects.models import Conversation, Generation, Message, Project
from projects.services.ai import generation_create, generation_update, message_create

HISTORY_MESSAGES = 50
Status = Generation.Status


@dataclass
class Reply:
    user_message: Message
    assistant_message: Message | None
    generation: Generation


def _history(conversation: Conversation) -> list[dict[str, str]]:
    rows = (
        Message.objects.filter(
            organization_id=conversation.organization_id, conversation_id=conversation.id
        )
        .order_by("-created_at", "-id")
        .values("role", "content")[:HISTORY_MESSAGES]
    )
    return [{"role": r["role"], "content": r["content"]} for r in reversed(rows)]


def conversation_reply_start(
    *,
    actor: User,
    project: Project,
    conversation: Conversation,
    content: str,
    model: str = "",
    credentials: str = "org",
    integration: str = "",
) -> tuple[ai.AIProvider, list[dict[str, str]], Reply]:
    """Find the provider, append the user's message, start a running generation."""
    provider = ai.provider_for(
        organization_id=project.organization_id,
        user_id=actor.id,
        source=credentials,
        name=integration,
    )
    user_message = message_create(
        actor=actor, conversation=conversation, role=Message.Role.USER, content=content
    )
    messages = _history(conversation)
    generation = generation_create(
        actor=actor,
        project=project,
        prompt=content,
        model=model or provider.default_model,
        conversation_id=conversation.id,
    )
    generation = generation_update(actor=actor, generation=generation, status=Status.RUNNING)
    return provider, messages, Reply(user_message, None, generation)


def conversation_reply_finish(
    *, actor: User, conversation: Conversation, reply: Reply, completion: ai.Completion
) -> Reply:
    reply.assistant_message = message_create(
        actor=None,
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        content=completion.content,
        model=completion.model,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
    )
    reply.generation = generation_update(
        actor=actor,
        generation=reply.generation,
        status=Status.SUCCEEDED,
        output=completion.content,
        tokens_in=completion.prompt_tokens,
        tokens_out=completion.completion_tokens,
    )
    return reply


def conversation_reply_failed(*, actor: User | None, reply: Reply, error: DomainError) -> None:
    generation_update(
        actor=actor, generation=reply.generation, status=Status.FAILED, error=error.message
    )


def conversation_reply(
    *,
    actor: User,
    project: Project,
    conversation: Conversation,
    content: str,
    model: str = "",
    credentials: str = "org",
    integration: str = "",
) -> Reply:
    provider, messages, reply = conversation_reply_start(
        actor=actor,
        project=project,
        conversation=conversation,
        content=content,
        model=model,
        credentials=credentials,
        integration=integration,
    )
    completion = ai.complete(provider, messages=messages, model=reply.generation.model)
    return conversation_reply_finish(
        actor=actor, conversation=conversation, reply=reply, completion=completion
    )


def generation_run(
    *,
    actor: User,
    project: Project,
    generation_id: uuid.UUID,
    credentials: str = "org",
    integration: str = "",
) -> Generation:
    """Run a queued generation through the provider; output and token usage recorded."""
    generation = Generation.objects.get(organization_id=project.organization_id, id=generation_id)
    provider = ai.provider_for(
        organization_id=project.organization_id,
        user_id=actor.id,
        source=credentials,
        name=integration,
    )
    generation = generation_update(actor=actor, generation=generation, status=Status.RUNNING)
    completion = ai.complete(
        provider,
        messages=[{"role": "user", "content": generation.prompt}],
        model=generation.model,
    )
    return generation_update(
        actor=actor,
        generation=generation,
        status=Status.SUCCEEDED,
        output=completion.content,
        tokens_in=completion.prompt_tokens,
        tokens_out=completion.completion_tokens,
    )
