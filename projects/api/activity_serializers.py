"""Input and output serializers of the activity API: conversations, messages,
generations, jobs, assets and search."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import InputSerializer
from projects.models import Asset, Conversation, Generation, Job, Message
from projects.services.search import MAX_QUERY_LENGTH, TYPES

# --- output -------------------------------------------------------------------------------


class ActorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()


class ConversationSerializer(serializers.ModelSerializer):
    created_by = ActorSerializer(allow_null=True, read_only=True)
    message_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Conversation
        fields = ["id", "title", "message_count", "created_by", "created_at", "updated_at"]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Message.Role.choices, read_only=True)
    author = ActorSerializer(allow_null=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "role",
            "content",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "author",
            "created_at",
        ]
        read_only_fields = fields


class GenerationSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=Generation.Status.choices, read_only=True)
    created_by = ActorSerializer(allow_null=True, read_only=True)
    revision_ids = serializers.SerializerMethodField()

    class Meta:
        model = Generation
        fields = [
            "id",
            "conversation",
            "prompt",
            "model",
            "status",
            "output",
            "tokens_in",
            "tokens_out",
            "duration_ms",
            "error",
            "revision_ids",
            "started_at",
            "finished_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_revision_ids(self, generation: Generation) -> list[str]:
        """The file revisions this generation produced (prefetched by the views)."""
        return [str(revision.id) for revision in generation.revisions.all()]


class JobSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=Job.Status.choices, read_only=True)
    created_by = ActorSerializer(allow_null=True, read_only=True)
    output_asset_ids = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "type",
            "status",
            "progress",
            "parameters",
            "result",
            "error",
            "output_asset_ids",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "cancel_requested_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_output_asset_ids(self, job: Job) -> list[str]:
        """The assets the job produced (prefetched by the views)."""
        return [str(asset.id) for asset in job.assets.all()]


class AssetSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=Asset.Kind.choices, read_only=True)
    created_by = ActorSerializer(allow_null=True, read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id",
            "kind",
            "title",
            "filename",
            "content_type",
            "size",
            "sha256",
            "job",
            "download_url",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI_REF)
    def get_download_url(self, asset: Asset) -> str:
        view = self.context.get("view")
        kwargs = getattr(view, "kwargs", {})
        return reverse(
            "v1:asset-download",
            kwargs={
                "org_slug": kwargs.get("org_slug", ""),
                "project_slug": kwargs.get("project_slug", ""),
                "asset_id": asset.id,
            },
        )


class SearchProjectSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


class SearchHitSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=TYPES, read_only=True)
    id = serializers.UUIDField()
    title = serializers.CharField(
        help_text="Project name, file path, document title, site name or page title."
    )
    path = serializers.CharField(allow_null=True, help_text="Files and pages only.")
    headline = serializers.CharField(
        help_text="An HTML-safe excerpt: text escaped, matches wrapped in <mark>."
    )
    rank = serializers.FloatField()
    project = SearchProjectSerializer(allow_null=True, help_text="Project hits only.")
    site = SearchProjectSerializer(allow_null=True, help_text="Site and page hits only.")


class SearchPageSerializer(serializers.Serializer):
    """A page of hits, best first, in the cursor pagination shape of every list."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True, help_text="Always null: search pages forward.")
    results = SearchHitSerializer(many=True)


# --- input --------------------------------------------------------------------------------


class ConversationCreateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ConversationUpdateSerializer(InputSerializer):
    title = serializers.CharField(max_length=200, allow_blank=True)


class MessageCreateSerializer(InputSerializer):
    role = serializers.ChoiceField(choices=Message.Role.choices)
    content = serializers.CharField(max_length=200_000, trim_whitespace=False)
    model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    prompt_tokens = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    completion_tokens = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)


class GenerationCreateSerializer(InputSerializer):
    prompt = serializers.CharField(max_length=100_000, trim_whitespace=False)
    model = serializers.CharField(max_length=100)
    conversation = serializers.UUIDField(required=False, allow_null=True, default=None)


class GenerationUpdateSerializer(InputSerializer):
    status = serializers.ChoiceField(choices=Generation.Status.choices)
    output = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    tokens_in = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    tokens_out = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    error = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class JobCreateSerializer(InputSerializer):
    type = serializers.CharField(max_length=60)
    parameters = serializers.DictField(required=False, default=dict)


class AssetUploadSerializer(InputSerializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(
        choices=[(Asset.Kind.UPLOAD, "upload"), (Asset.Kind.KNOWLEDGE, "knowledge")],
        default=Asset.Kind.UPLOAD,
    )
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SearchQuerySerializer(InputSerializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH)
    types = serializers.CharField(required=False, default=",".join(TYPES))

    def validate_types(self, value: str) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
        unknown = [t for t in chosen if t not in TYPES]
        if unknown or not chosen:
            raise serializers.ValidationError(f"A comma-separated subset of {', '.join(TYPES)}.")
        return chosen

    def to_internal_value(self, data: Any) -> Any:
        # Query strings are QueryDicts: take single values.
        if hasattr(data, "dict"):
            data = data.dict()
        return super().to_internal_value(data)
