"""Input and output serializers of the integrations API.

Output serializers never carry a secret: keys and webhook secrets appear once, in
the create (or rotate) response, under ``key`` / ``secret``; credentials only as a
hint (``sk-…a1b2``).
"""

from __future__ import annotations

from rest_framework import serializers

from config.api.serializers import InputSerializer
from integrations.event_types import SUBSCRIBABLE
from integrations.models import (
    API_KEY_ROLE_CHOICES,
    ApiKey,
    Integration,
    Provider,
    UserIntegration,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# --- API keys ---------------------------------------------------------------------


class ApiKeySerializer(serializers.ModelSerializer):
    hint = serializers.CharField(read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "role",
            "scopes",
            "hint",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(
        read_only=True, help_text="The secret. Shown only in this response."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=API_KEY_ROLE_CHOICES, default="member")
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


# --- vault --------------------------------------------------------------------------

_CREDENTIALS = serializers.DictField(
    child=serializers.CharField(max_length=4000, trim_whitespace=False),
    required=False,
    help_text="Write-only: secrets (e.g. {'api_key': 'sk-…'}), stored encrypted.",
)


class IntegrationSerializer(serializers.ModelSerializer):
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Integration
        fields = [
            "id",
            "provider",
            "name",
            "config",
            "credentials_hint",
            "status",
            "last_verified_at",
            "last_error",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class IntegrationCreateSerializer(InputSerializer):
    provider = serializers.ChoiceField(choices=Provider.choices)
    name = serializers.CharField(max_length=100)
    config = serializers.DictField(required=False)
    credentials = _CREDENTIALS


class IntegrationUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, required=False)
    config = serializers.DictField(required=False)
    credentials = _CREDENTIALS
    status = serializers.ChoiceField(choices=Integration.Status.choices, required=False)


class UserIntegrationSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserIntegration
        fields = [
            "id",
            "provider",
            "name",
            "config",
            "credentials_hint",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class UserIntegrationSaveSerializer(InputSerializer):
    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    config = serializers.DictField(required=False)
    credentials = _CREDENTIALS


class UserIntegrationCreateSerializer(UserIntegrationSaveSerializer):
    name = serializers.SlugField(max_length=100)
    provider = serializers.ChoiceField(choices=Provider.choices)


# --- webhooks -----------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "status",
            "disabled_reason",
            "failing_since",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (whsec_…). Shown only in this response."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EventTypeSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="What an endpoint's `event_types` lists.")
    description = serializers.CharField()


class EventTypeCatalogSerializer(serializers.Serializer):
    all = serializers.CharField(help_text="`*`: subscribes to every event type.")
    results = EventTypeSerializer(many=True)


class WebhookEndpointCreateSerializer(InputSerializer):
    url = serializers.URLField(max_length=2000)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE),
        min_length=1,
        max_length=100,
        help_text="Names from GET /api/v1/webhooks/event-types/, or only `*` for all.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookEndpointUpdateSerializer(InputSerializer):
    url = serializers.URLField(max_length=2000, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE),
        min_length=1,
        max_length=100,
        required=False,
        help_text="Names from GET /api/v1/webhooks/event-types/, or only `*` for all.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=WebhookEndpoint.Status.choices, required=False)


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True)
    previous_secret_expires_at = serializers.DateTimeField(read_only=True)


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "status_code", "response_snippet", "error", "duration_ms", "created_at"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="message.webhook_id", read_only=True)
    event_type = serializers.CharField(source="message.event_type", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "event_type",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_response",
            "last_error",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempts = WebhookAttemptSerializer(many=True, read_only=True)
    payload = serializers.JSONField(source="message.payload", read_only=True)

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "payload", "attempts"]
        read_only_fields = fields
