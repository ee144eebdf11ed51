"""AI replies: a conversation message answered by the provider (optionally streamed as
server-sent events), and running a queued generation (see
:mod:`projects.services.ai_replies`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.serializers import InputSerializer, validated
from config.errors import DomainError
from integrations import ai
from organizations.tenancy import tenant_context
from projects.api.activity_serializers import GenerationSerializer, MessageSerializer
from projects.api.ai_views import _ConversationViewMixin, _GenerationViewMixin
from projects.api.base import ProjectScopedAPIView
from projects.services import ai_replies

CREDENTIALS = serializers.ChoiceField(
    choices=["org", "user"],
    default="org",
    help_text="Use the organization's AI integration or your own provider key.",
)


class ReplyRequestSerializer(InputSerializer):
    content = serializers.CharField(max_length=200_000, trim_whitespace=False)
    model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    credentials = CREDENTIALS
    integration = serializers.CharField(max_length=100, required=False, default="")
    stream = serializers.BooleanField(default=False)


class RunRequestSerializer(InputSerializer):
    credentials = CREDENTIALS
    integration = serializers.CharField(max_length=100, required=False, default="")


class ReplySerializer(serializers.Serializer):
    user_message = MessageSerializer()
    assistant_message = MessageSerializer()
    generation = GenerationSerializer()


def _sse(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


class ConversationReplyView(_ConversationViewMixin, ProjectScopedAPIView):
    """Send a message and get the assistant's reply from the AI provider. With
    ``"stream": true`` the answer is ``text/event-stream``: ``delta`` events with text
    pieces, then ``done`` (the messages and generation) or ``error``."""

    scope_map = {"POST": "project.ai.write"}
    serializer_class = ReplySerializer

    @extend_schema(request=ReplyRequestSerializer, responses={201: ReplySerializer})
    def post(
        self, request: Request, org_slug: str, project_slug: str, conversation_id: uuid.UUID
    ) -> Response | StreamingHttpResponse:
        conversation = self.get_conversation(conversation_id)
        data = validated(ReplyRequestSerializer, request)
        stream = data.pop("stream")
        if not stream:
            reply = ai_replies.conversation_reply(
                actor=request.user, project=self.project, conversation=conversation, **data
            )
            return Response(self._body(reply), status=status.HTTP_201_CREATED)
        provider, messages, reply = ai_replies.conversation_reply_start(
            actor=request.user, project=self.project, conversation=conversation, **data
        )
        events = self._events(request, org_slug, conversation, provider, messages, reply)
        response = StreamingHttpResponse(events, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        return response

    @staticmethod
    def _body(reply: ai_replies.Reply) -> dict:
        return {
            "user_message": MessageSerializer(reply.user_message).data,
            "assistant_message": MessageSerializer(reply.assistant_message).data,
            "generation": GenerationSerializer(reply.generation).data,
        }

    def _events(
        self, request, org_slug, conversation, provider, messages, reply
    ) -> Iterator[bytes]:
        """Runs after the request's transaction committed: the results are recorded in
        a transaction of their own, as the caller."""
        user = request.user
        try:
            completion = None
            for piece in ai.stream(provider, messages=messages, model=reply.generation.model):
                if isinstance(piece, ai.Completion):
                    completion = piece
                else:
                    yield _sse("delta", {"content": piece})
            with tenant_context(user_id=user.id, org_slug=org_slug):
                reply = ai_replies.conversation_reply_finish(
                    actor=user, conversation=conversation, reply=reply, completion=completion
                )
                body = self._body(reply)
            yield _sse("done", body)
        except DomainError as exc:  # ProviderError, or the base URL refused by the guard
            with tenant_context(user_id=user.id, org_slug=org_slug):
                ai_replies.conversation_reply_failed(actor=user, reply=reply, error=exc)
            yield _sse("error", {"code": exc.code, "message": exc.message})


class GenerationRunView(_GenerationViewMixin, ProjectScopedAPIView):
    """Run a queued generation through the AI provider (output and token usage recorded)."""

    scope_map = {"POST": "project.ai.write"}
    serializer_class = GenerationSerializer

    @extend_schema(request=RunRequestSerializer, responses=GenerationSerializer)
    def post(
        self, request: Request, org_slug: str, project_slug: str, generation_id: uuid.UUID
    ) -> Response:
        generation = self.get_generation(generation_id)
        data = validated(RunRequestSerializer, request)
        ai_replies.generation_run(
            actor=request.user, project=self.project, generation_id=generation.id, **data
        )
        return Response(GenerationSerializer(self.get_generation(generation_id)).data)
