"""Conversations, their messages, and generations of a project."""

from __future__ import annotations

import uuid

from django.db.models import Count, Prefetch, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import FilterSet
from config.api.pagination import CursorPagination
from config.api.serializers import validated
from organizations.api.base import ListAPIMixin
from projects.api.activity_serializers import (
    ConversationCreateSerializer,
    ConversationSerializer,
    ConversationUpdateSerializer,
    GenerationCreateSerializer,
    GenerationSerializer,
    GenerationUpdateSerializer,
    MessageCreateSerializer,
    MessageSerializer,
)
from projects.api.base import ProjectScopedAPIView
from projects.models import Conversation, FileRevision, Generation, Message
from projects.services import ai


class OldestFirstPagination(CursorPagination):
    """Messages read as a conversation: oldest first."""

    ordering = ("created_at", "id")


# --- conversations ----------------------------------------------------------------------


class _ConversationViewMixin:
    def conversations(self) -> QuerySet[Conversation]:
        project = self.project  # type: ignore[attr-defined]
        return (
            Conversation.objects.filter(
                organization_id=project.organization_id, project_id=project.pk
            )
            .select_related("created_by")
            .annotate(message_count=Count("messages"))
        )

    def get_conversation(self, conversation_id: uuid.UUID) -> Conversation:
        return self.get_org_object(self.conversations(), id=conversation_id)  # type: ignore[attr-defined]


class ConversationListView(_ConversationViewMixin, ListAPIMixin, ProjectScopedAPIView):
    """The project's conversations, newest first; start one."""

    scope_map = {"GET": "project.view", "POST": "project.ai.write"}
    queryset = Conversation.objects.none()
    serializer_class = ConversationSerializer
    ordering_fields = ("created_at", "updated_at", "title")
    search_fields = ("title",)

    def scoped_queryset(self) -> QuerySet[Conversation]:
        return self.conversations()

    @extend_schema(request=ConversationCreateSerializer, responses={201: ConversationSerializer})
    def post(self, request: Request, org_slug: str, project_slug: str) -> Response:
        data = validated(ConversationCreateSerializer, request)
        conversation = ai.conversation_create(actor=request.user, project=self.project, **data)
        conversation = self.get_conversation(conversation.id)
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)


class ConversationDetailView(_ConversationViewMixin, ProjectScopedAPIView):
    scope_map = {"GET": "project.view", "PATCH": "project.ai.write", "DELETE": "project.ai.write"}
    serializer_class = ConversationSerializer

    def get(
        self, request: Request, org_slug: str, project_slug: str, conversation_id: uuid.UUID
    ) -> Response:
        return Response(ConversationSerializer(self.get_conversation(conversation_id)).data)

    @extend_schema(request=ConversationUpdateSerializer, responses=ConversationSerializer)
    def patch(
        self, request: Request, org_slug: str, project_slug: str, conversation_id: uuid.UUID
    ) -> Response:
        data = validated(ConversationUpdateSerializer, request)
        conversation = ai.conversation_update(
            actor=request.user, conversation=self.get_conversation(conversation_id), **data
        )
        return Response(ConversationSerializer(conversation).data)

    def delete(
        self, request: Request, org_slug: str, project_slug: str, conversation_id: uuid.UUID
    ) -> Response:
        """Delete the conversation and its messages."""
        ai.conversation_delete(
            actor=request.user, conversation=self.get_conversation(conversation_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageListView(_ConversationViewMixin, ListAPIMixin, ProjectScopedAPIView):
    """A conversation's messages, oldest first; add one."""

    scope_map = {"GET": "project.view", "POST": "project.ai.write"}
    queryset = Message.objects.none()
    serializer_class = MessageSerializer
    pagination_class = OldestFirstPagination
    ordering_fields = ("created_at",)

    def scoped_queryset(self) -> QuerySet[Message]:
        conversation = self.get_conversation(self.kwargs["conversation_id"])
        return Message.objects.filter(
            organization_id=conversation.organization_id, conversation_id=conversation.id
        ).select_related("author")

    @extend_schema(request=MessageCreateSerializer, responses={201: MessageSerializer})
    def post(
        self, request: Request, org_slug: str, project_slug: str, conversation_id: uuid.UUID
    ) -> Response:
        conversation = self.get_conversation(conversation_id)
        data = validated(MessageCreateSerializer, request)
        message = ai.message_create(actor=request.user, conversation=conversation, **data)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


# --- generations ------------------------------------------------------------------------


class GenerationFilter(FilterSet):
    status = filters.ChoiceFilter(choices=Generation.Status.choices)

    class Meta:
        model = Generation
        fields = ["status"]


class _GenerationViewMixin:
    def generations(self) -> QuerySet[Generation]:
        project = self.project  # type: ignore[attr-defined]
        revisions = FileRevision.objects.only("id", "organization_id", "generation_id")
        return (
            Generation.objects.filter(
                organization_id=project.organization_id, project_id=project.pk
            )
            .select_related("created_by")
            .prefetch_related(Prefetch("revisions", queryset=revisions))
        )

    def get_generation(self, generation_id: uuid.UUID) -> Generation:
        return self.get_org_object(self.generations(), id=generation_id)  # type: ignore[attr-defined]


class GenerationListView(_GenerationViewMixin, ListAPIMixin, ProjectScopedAPIView):
    """The project's generations, newest first (``?status=``); record a new one (queued)."""

    scope_map = {"GET": "project.view", "POST": "project.ai.write"}
    queryset = Generation.objects.none()
    serializer_class = GenerationSerializer
    filterset_class = GenerationFilter
    ordering_fields = ("created_at", "updated_at")

    def scoped_queryset(self) -> QuerySet[Generation]:
        return self.generations()

    @extend_schema(request=GenerationCreateSerializer, responses={201: GenerationSerializer})
    def post(self, request: Request, org_slug: str, project_slug: str) -> Response:
        data = validated(GenerationCreateSerializer, request)
        generation = ai.generation_create(
            actor=request.user,
            project=self.project,
            prompt=data["prompt"],
            model=data["model"],
            conversation_id=data["conversation"],
        )
        generation = self.get_generation(generation.id)
        return Response(GenerationSerializer(generation).data, status=status.HTTP_201_CREATED)


class GenerationDetailView(_GenerationViewMixin, ProjectScopedAPIView):
    """One generation; ``PATCH`` moves it along queued → running → succeeded | failed
    (or canceled), anything else is a 409 ``invalid_transition``."""

    scope_map = {"GET": "project.view", "PATCH": "project.ai.write"}
    serializer_class = GenerationSerializer

    def get(
        self, request: Request, org_slug: str, project_slug: str, generation_id: uuid.UUID
    ) -> Response:
        return Response(GenerationSerializer(self.get_generation(generation_id)).data)

    @extend_schema(request=GenerationUpdateSerializer, responses=GenerationSerializer)
    def patch(
        self, request: Request, org_slug: str, project_slug: str, generation_id: uuid.UUID
    ) -> Response:
        generation = self.get_generation(generation_id)
        data = validated(GenerationUpdateSerializer, request)
        ai.generation_update(actor=request.user, generation=generation, **data)
        return Response(GenerationSerializer(self.get_generation(generation_id)).data)
