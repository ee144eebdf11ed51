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
from organizations.tenancy import service_context
from projects.api.activity_serializers import GenerationSerializer, MessageSerializer
from projects.api.ai_views import _ConversationViewMixin, _GenerationViewMixin
from projects.api.base import ProjectScopedAPIView
from projects.models import Conversation
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


CLIENT_GONE = DomainError("The client disconnected before the reply ended.")


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
        # Reserves the reply's tokens now: over the allowance it is a 402, nothing streamed
        # and the request's writes (the user's message, the generation) rolled back.
        pieces = ai.stream(provider, messages=messages, model=reply.generation.model)
        events = self._events(request, conversation, pieces, reply)
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
        self,
        request: Request,
        conversation: Conversation,
        pieces: ai.ReplyStream,
        reply: ai_replies.Reply,
    ) -> Iterator[bytes]:
        """Runs after the request's transaction committed: the result and the token
        usage are recorded in a transaction of their own, with the request's claims (an
        API key stays the key, its role capped)."""
        user = request.user
        stream, finished = iter(pieces), False
        try:
            completion = None
            for piece in stream:
                if isinstance(piece, ai.Completion):
                    completion = piece
                else:
                    yield _sse("delta", {"content": piece})
            with self.caller_context(request):
                reply = ai_replies.conversation_reply_finish(
                    actor=user, conversation=conversation, reply=reply, completion=completion
                )
                pieces.settle(completion)
                body = self._body(reply)
            finished = True
            yield _sse("done", body)
            return
        except DomainError as exc:  # ProviderError, the guard refused the URL, access lost
            error = exc
        except GeneratorExit:
            # The client went away before the reply ended: the provider connection is
            # closed and the generation failed; the tokens are likely spent, so the
            # reservation stands.
            stream.close()
            if not finished:
                self._record_failure(request, reply, CLIENT_GONE)
            raise
        self._record_failure(request, reply, error, release=pieces)
        yield _sse("error", {"code": error.code, "message": error.message})

    def _record_failure(
        self,
        request: Request,
        reply: ai_replies.Reply,
        error: DomainError,
        *,
        release: ai.ReplyStream | None = None,
    ) -> None:
        """Close the generation as failed, as the caller; give the reply's reserved
        tokens back (``release``) when the provider failed before spending them."""
        try:
            with self.caller_context(request):
                ai_replies.conversation_reply_failed(actor=request.user, reply=reply, error=error)
                if release is not None:
                    release.release()
        except DomainError:
            # The caller lost the organization while the reply streamed: the system
            # closes the generation (audited), and the tokens stay counted.
            with service_context(
                reason="close a streamed AI reply whose caller lost access",
                organization_id=reply.generation.organization_id,
            ):
                ai_replies.conversation_reply_failed(actor=None, reply=reply, error=error)


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
