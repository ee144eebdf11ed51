"""The AI provider gateway: one OpenAI-compatible client over the outbound guard.

``POST {base_url}/chat/completions`` with the organization's ``Integration``
credentials, or the caller's own ``UserIntegration`` when they choose it, streamed
(server-sent events, read with ``httpx-sse``) or not. Token usage comes from the
provider's ``usage`` (no local tokenizer). Every reply, streamed or not, reserves
its likely tokens first (:func:`integrations.usage.reserve`: 402 over the month's
allowance, nothing sent) and settles to the provider's count, or gives the
reservation back when the provider fails.

**Provider errors are sanitized**: a refusal becomes ``provider_error`` (502) naming
only the HTTP status; the provider's body and the key never reach the caller, the
logs or the generation's ``error``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from httpx_sse import EventSource, SSEError

from config.errors import DomainError, Invalid
from integrations import crypto, outbound, usage
from integrations.models import Integration, Provider, UserIntegration

logger = logging.getLogger(__name__)

AI_TIMEOUT_SECONDS = 60.0
MAX_REPLY_BYTES = 4 * 1024 * 1024


class ProviderError(DomainError):
    """The provider refused or failed (502); the message never carries its body or the key."""

    status_code = 502
    code = "provider_error"


@dataclass(frozen=True)
class AIProvider:
    base_url: str
    api_key: str
    default_model: str
    organization_id: uuid.UUID

    def __repr__(self) -> str:  # SECURITY: never print the key
        return f"AIProvider(base_url={self.base_url!r}, api_key='***')"


@dataclass(frozen=True)
class Completion:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int


def provider_for(
    *, organization_id: uuid.UUID, user_id: uuid.UUID, source: str = "org", name: str = ""
) -> AIProvider:
    """The caller's AI provider: the organization's (``source="org"``) or their own
    (``"user"``); by ``name`` or the first one. Read under the caller's claims, so RLS
    decides what they may use (their own keys only; org integrations for members+)."""
    if source == "user":
        rows = UserIntegration.objects.filter(
            organization_id=organization_id, user_id=user_id, provider=Provider.OPENAI_COMPATIBLE
        )
    else:
        rows = Integration.objects.filter(
            organization_id=organization_id,
            provider=Provider.OPENAI_COMPATIBLE,
            status=Integration.Status.ACTIVE,
        )
    if name:
        rows = rows.filter(name=name)
    row = rows.order_by("created_at", "id").first()
    if row is None:
        raise Invalid(
            "No AI provider is configured for this.",
            code="no_ai_integration",
            details={"credentials": [f"No {source} OpenAI-compatible integration found."]},
        )
    credentials = crypto.decrypt_json(row.credentials_encrypted)
    base_url = str(row.config.get("base_url") or "").rstrip("/")
    if not base_url or not credentials.get("api_key"):
        raise Invalid(
            "The AI integration needs a base_url and an api_key.", code="no_ai_integration"
        )
    return AIProvider(
        base_url=base_url,
        api_key=credentials["api_key"],
        default_model=str(row.config.get("model") or ""),
        organization_id=organization_id,
    )


def _request(provider: AIProvider, messages: list[dict[str, str]], model: str, stream: bool):
    body: dict = {"model": model or provider.default_model, "messages": messages, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    headers = {"authorization": f"Bearer {provider.api_key}", "accept": "application/json"}
    return f"{provider.base_url}/chat/completions", headers, body


def _refused(status: int) -> ProviderError:
    logger.warning("AI provider answered HTTP %s", status)  # no body: it may echo the key
    if status in (401, 403):
        return ProviderError(f"The AI provider rejected the credentials (HTTP {status}).")
    if status == 429:
        return ProviderError("The AI provider is rate limiting requests (HTTP 429).")
    return ProviderError(f"The AI provider refused the request (HTTP {status}).")


def _unreachable(exc: Exception) -> ProviderError:
    return ProviderError("The AI provider could not be reached.")


def complete(
    provider: AIProvider, *, messages: list[dict[str, str]], model: str = ""
) -> Completion:
    url, headers, body = _request(provider, messages, model, stream=False)
    # Billing: reserve the reply's likely tokens first (402 over the month's allowance,
    # before anything is sent), then settle to the provider's count or release.
    reservation = usage.reserve(provider.organization_id, "ai_tokens", _estimate(messages))
    try:
        completion = _complete(url, headers, body)
    except BaseException:
        usage.release(reservation)
        raise
    usage.settle(reservation, completion.prompt_tokens + completion.completion_tokens)
    return completion


def _estimate(messages: list[dict[str, str]]) -> int:
    """Tokens a reply may cost: about four characters a token of prompt, plus the reply."""
    prompt = sum(len(message.get("content") or "") for message in messages)
    return prompt // 4 + settings.AI_REPLY_TOKENS_RESERVED


def _complete(url: str, headers: dict[str, str], body: dict[str, Any]) -> Completion:
    try:
        response = outbound.request(
            "POST",
            url,
            headers=headers,
            json=body,
            timeout=AI_TIMEOUT_SECONDS,
            max_bytes=MAX_REPLY_BYTES,
        )
    except outbound.OutboundError as exc:
        raise _unreachable(exc) from None
    if not 200 <= response.status_code < 300:
        raise _refused(response.status_code)
    try:
        data = json.loads(response.content)
        content = data["choices"][0]["message"]["content"] or ""
        reported = data.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError):
        raise ProviderError("The AI provider sent an unreadable answer.") from None
    return Completion(
        content=content,
        model=str(data.get("model") or body["model"]),
        prompt_tokens=int(reported.get("prompt_tokens") or 0),
        completion_tokens=int(reported.get("completion_tokens") or 0),
    )


def stream(provider: AIProvider, *, messages: list[dict[str, str]], model: str = "") -> ReplyStream:
    """Open a streamed reply: its tokens are reserved now (402 before anything is sent or
    streamed); iterate it for the text pieces, then settle or release it."""
    return ReplyStream(provider, messages, model)


class ReplyStream:
    """A streamed reply: iterating yields the text pieces as they arrive, then the
    :class:`Completion`. The caller settles it (:meth:`settle`) once the reply is
    recorded, or releases it (:meth:`release`) when the provider failed; both write the
    usage counter, so they run in the organization's context."""

    def __init__(self, provider: AIProvider, messages: list[dict[str, str]], model: str) -> None:
        self.url, self.headers, self.body = _request(provider, messages, model, stream=True)
        self.headers["accept"] = "text/event-stream"
        self.reservation = usage.reserve(provider.organization_id, "ai_tokens", _estimate(messages))

    def settle(self, completion: Completion) -> None:
        usage.settle(self.reservation, completion.prompt_tokens + completion.completion_tokens)

    def release(self) -> None:
        usage.release(self.reservation)

    def __iter__(self) -> Iterator[str | Completion]:
        pieces: list[str] = []
        reported: dict = {}
        answered_model = self.body["model"]
        try:
            with outbound.stream(
                "POST", self.url, headers=self.headers, json=self.body, timeout=AI_TIMEOUT_SECONDS
            ) as response:
                if not 200 <= response.status_code < 300:
                    raise _refused(response.status_code)
                for event in EventSource(response).iter_sse():
                    if event.data.strip() == "[DONE]":
                        break
                    try:
                        chunk = json.loads(event.data)
                    except ValueError:
                        raise ProviderError("The AI provider sent an unreadable answer.") from None
                    reported = chunk.get("usage") or reported
                    answered_model = chunk.get("model") or answered_model
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            pieces.append(piece)
                            yield piece
        except outbound.OutboundError as exc:
            raise _unreachable(exc) from None
        except SSEError:
            raise ProviderError("The AI provider sent an unreadable answer.") from None
        yield Completion(
            content="".join(pieces),
            model=str(answered_model),
            prompt_tokens=int(reported.get("prompt_tokens") or 0),
            completion_tokens=int(reported.get("completion_tokens") or 0),
        )
