"""One-time tickets for browsers' ``EventSource``, which cannot send headers.

``POST /api/v1/orgs/{slug}/events/tickets/`` (signed in, or with a key) answers a random
ticket; ``GET …/events/?ticket=…`` spends it. A ticket is valid for
``REALTIME_TICKET_SECONDS`` (30), for one stream of that organization, and stands for
exactly the credentials that asked for it: a person's session (revoking the session
ends the stream) or an API key (revoking the key does).

Tickets live in the cache under their sha256 (the ticket itself is never stored, and
logs redact ``ticket=``). Spending one is ``cache.delete``, which answers whether *this*
call removed it: of two racing requests with the same ticket, one wins. With several
processes the cache must be shared (``CACHE_URL``), as it must for the throttles.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache import cache
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.authentication import SessionTokenAuthentication
from accounts.models import User
from integrations.apikeys import ApiKeyPrincipal
from organizations.permissions import Principal

PREFIX = "realtime:ticket:"


def _key(ticket: str) -> str:
    return PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


def issue(
    *,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: str | None,
    api_key: ApiKeyPrincipal | None,
) -> str:
    """A new ticket for these credentials in this organization."""
    ticket = "rt_" + secrets.token_urlsafe(32)
    cache.set(
        _key(ticket),
        {
            "org": str(organization_id),
            "user": str(user_id),
            "session": str(session_id) if session_id else None,
            "key": str(api_key.id) if api_key else None,
            "scopes": list(api_key.scopes) if api_key else [],
        },
        timeout=settings.REALTIME_TICKET_SECONDS,
    )
    return ticket


def spend(ticket: str) -> dict[str, Any] | None:
    """The ticket's grant, once: ``None`` if unknown, expired or already spent."""
    key = _key(ticket)
    grant = cache.get(key)
    if grant is None or not cache.delete(key):
        return None
    return grant


@dataclass(frozen=True)
class TicketPerson:
    """``request.auth`` of a person's ticket: the session it was issued under."""

    principal_kind: ClassVar[Principal] = Principal.PERSON
    organization_id: uuid.UUID
    session_id: str


class TicketAuthentication(authentication.BaseAuthentication):
    """``?ticket=`` on the event stream (only there). The credentials behind the ticket
    are checked again now: the session still open and its user active; the key is
    checked by ``app.enter_org_with_key`` like any key request."""

    def authenticate(self, request: Request) -> tuple[User, Any] | None:
        ticket = request.query_params.get("ticket")
        if ticket is None:
            return None
        if authentication.get_authorization_header(request):
            raise exceptions.AuthenticationFailed(
                "Send a ticket or an Authorization header, not both.", code="ticket_invalid"
            )
        grant = spend(ticket) if ticket.startswith("rt_") and len(ticket) < 100 else None
        if grant is None:
            raise exceptions.AuthenticationFailed(
                "The ticket is invalid, used or expired: ask for a new one.",
                code="ticket_invalid",
            )
        org_id = uuid.UUID(grant["org"])
        if grant["key"]:
            user = User.objects.filter(id=grant["user"], is_active=True).first()
            if user is None:
                raise exceptions.AuthenticationFailed(
                    "The ticket is invalid, used or expired.", code="ticket_invalid"
                )
            principal = ApiKeyPrincipal(
                id=uuid.UUID(grant["key"]), organization_id=org_id, scopes=tuple(grant["scopes"])
            )
            user.api_key = principal
            return user, principal
        user = SessionTokenAuthentication().get_user(
            {"sid": grant["session"], "sub": grant["user"]}
        )
        request.session_id = grant["session"]
        return user, TicketPerson(organization_id=org_id, session_id=grant["session"])

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
