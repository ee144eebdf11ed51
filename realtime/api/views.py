"""``GET /api/v1/orgs/{slug}/events/`` and ``POST …/events/tickets/``."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from config.api.request_context import current_request_id
from integrations.apikeys import ApiKeyPrincipal
from organizations.api.base import OrgScopedAPIView, principal_kind
from projects.models import Project
from realtime import feed, handshake, tickets
from realtime.catalog import OBJECT_TOPICS, TOPICS
from realtime.visibility import Audience
from sites.models import Site


class EventStreamRenderer(BaseRenderer):
    """Lets ``Accept: text/event-stream`` through content negotiation; the stream itself
    is written by the view (or the router), never by this renderer."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        raise NotImplementedError  # errors are rendered as JSON (finalize_response)


def _parse_topics(request: Request, organization_id: uuid.UUID) -> dict[str, frozenset[Any]]:
    raw = request.query_params.get("topics", "")
    names, slugs = set(), {kind: set() for kind in OBJECT_TOPICS}
    unknown = []
    for topic in filter(None, (t.strip() for t in raw.split(","))):
        kind, sep, slug = topic.partition(":")
        if not sep and topic in TOPICS:
            names.add(topic)
        elif sep and kind in slugs and slug:
            slugs[kind].add(slug)
        else:
            unknown.append(topic)
    # Under the caller's claims: a private project it cannot see is as unknown as a typo.
    projects = dict(
        Project.objects.filter(
            organization_id=organization_id, slug__in=slugs["project"]
        ).values_list("slug", "id")
    )
    sites = dict(
        Site.objects.filter(organization_id=organization_id, slug__in=slugs["site"]).values_list(
            "slug", "id"
        )
    )
    unknown += [f"project:{s}" for s in sorted(slugs["project"] - set(projects))]
    unknown += [f"site:{s}" for s in sorted(slugs["site"] - set(sites))]
    if unknown:
        known = ", ".join(sorted(TOPICS))
        raise ValidationError(
            {
                "topics": [
                    f"Unknown topic {t!r}: use {known}, project:<slug> or site:<slug>."
                    for t in unknown
                ]
            }
        )
    return {
        "topics": frozenset(names),
        "projects": frozenset(projects.values()),
        "sites": frozenset(sites.values()),
    }


def _last_event_id(request: Request) -> int | None:
    value = request.META.get("HTTP_LAST_EVENT_ID") or request.query_params.get("last_event_id")
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValidationError({"last_event_id": ["Must be an event id this feed sent."]})
    return number


class EventStreamView(OrgScopedAPIView):
    """The organization's change feed (Server-Sent Events); see ``docs/api.md``."""

    scope_map: ClassVar[dict[str, str]] = {"GET": "events.subscribe"}
    authentication_classes = [
        tickets.TicketAuthentication,
        *api_settings.DEFAULT_AUTHENTICATION_CLASSES,
    ]
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, EventStreamRenderer]
    QUERY_PARAMS = frozenset({"topics", "ticket", "last_event_id"})

    @extend_schema(
        operation_id="orgs_events_stream",
        parameters=[
            OpenApiParameter(
                "topics",
                str,
                description="Comma-separated: "
                + ", ".join(sorted(TOPICS))
                + ", project:<slug>, site:<slug>.",
            ),
            OpenApiParameter("ticket", str, description="A one-time ticket (EventSource)."),
            OpenApiParameter(
                "last_event_id",
                int,
                description="Resume after this event id "
                "(the `Last-Event-ID` header does the same).",
            ),
            OpenApiParameter("Last-Event-ID", int, OpenApiParameter.HEADER, required=False),
        ],
        responses={(200, "text/event-stream"): OpenApiTypes.STR},
    )
    def get(self, request: Request, org_slug: str) -> HttpResponse | StreamingHttpResponse:
        unknown = set(request.query_params) - self.QUERY_PARAMS
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in sorted(unknown)})
        sub = self.subscription(request)
        if handshake.from_router(request.META):
            response = HttpResponse(status=200)
            response[handshake.GRANT_HEADER] = handshake.encode(sub)
            return response
        return StreamingHttpResponse(
            self.catch_up(sub), content_type="text/event-stream; charset=utf-8"
        )

    def subscription(self, request: Request) -> feed.Subscription:
        auth = request.auth
        ticket_org = getattr(auth, "organization_id", None)
        if isinstance(auth, tickets.TicketPerson) and ticket_org != self.organization_id:
            raise AuthenticationFailed(
                "The ticket is for another organization.", code="ticket_invalid"
            )
        key = auth if isinstance(auth, ApiKeyPrincipal) else None
        topics = _parse_topics(request, self.organization_id)
        session = getattr(request, "session_id", None)
        return feed.Subscription(
            organization_id=self.organization_id,
            user_id=request.user.id,
            audience=Audience(principal_kind(request), self.org.role, key.scopes if key else ()),
            session_id=uuid.UUID(str(session)) if session and not key else None,
            api_key_id=key.id if key else None,
            topics=topics["topics"],
            project_ids=topics["projects"],
            site_ids=topics["sites"],
            last_event_id=_last_event_id(request),
            request_id=current_request_id(),
        )

    def catch_up(self, sub: feed.Subscription) -> list[bytes]:
        """Without a live feed (WSGI): what the client missed, then ``close``."""
        members = [sub.user_id]
        events: list[Any] = []
        with connection.cursor() as cursor:
            cursor.execute(feed.HEAD_SQL, [sub.organization_id, members])
            head = cursor.fetchone()[0]
            after = feed.replay_after(sub, head)
            if after is not None:
                cursor.execute(
                    feed.EVENTS_SQL,
                    [sub.organization_id, members, after, settings.REALTIME_REPLAY_MAX + 1],
                )
                events = [feed.event_from_row(row) for row in cursor.fetchall()]
        return [
            feed.retry_frame(),
            *feed.resume_frames(sub, head, events),
            feed.frame("close", {"reason": "no_live_feed"}),
        ]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response):  # an error: always the JSON envelope
            renderer = api_settings.DEFAULT_RENDERER_CLASSES[0]()
            request.accepted_renderer, request.accepted_media_type = renderer, renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class EventTicketView(OrgScopedAPIView):
    """A one-time ticket for ``EventSource`` (which cannot send an Authorization header)."""

    scope_map: ClassVar[dict[str, str]] = {"POST": "events.subscribe"}

    @extend_schema(
        operation_id="orgs_events_tickets_create",
        request=None,
        responses={
            201: inline_serializer(
                "EventTicket",
                {
                    "ticket": serializers.CharField(),
                    "expires_in": serializers.IntegerField(),
                    "url": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request, org_slug: str) -> Response:
        key = request.auth if isinstance(request.auth, ApiKeyPrincipal) else None
        ticket = tickets.issue(
            organization_id=self.organization_id,
            user_id=request.user.id,
            session_id=getattr(request, "session_id", None),
            api_key=key,
        )
        return Response(
            {
                "ticket": ticket,
                "expires_in": settings.REALTIME_TICKET_SECONDS,
                "url": f"/api/v1/orgs/{org_slug}/events/?ticket={ticket}",
            },
            status=status.HTTP_201_CREATED,
        )
