"""API keys, integrations, the caller's own provider keys, webhook endpoints and deliveries."""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.filters import FilterSet
from config.api.serializers import validated
from integrations import services, verify
from integrations.api import serializers as s
from integrations.event_types import ALL, EVENT_TYPES
from integrations.models import (
    ApiKey,
    Integration,
    UserIntegration,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from organizations.api.base import ListAPIMixin, OrgScopedAPIView

# --- the webhook event-type catalog ----------------------------------------------


class WebhookEventTypeListView(APIView):
    """Every event type a webhook endpoint may subscribe to, with what it means; `all`
    is the name that subscribes to every one. Any signed-in user or API key."""

    @extend_schema(responses=s.EventTypeCatalogSerializer)
    def get(self, request: Request) -> Response:
        results = [{"name": name, "description": EVENT_TYPES[name]} for name in sorted(EVENT_TYPES)]
        return Response(s.EventTypeCatalogSerializer({"all": ALL, "results": results}).data)


# --- API keys ---------------------------------------------------------------------


class ApiKeyListView(ListAPIMixin, OrgScopedAPIView):
    """The organization's API keys (no secrets); create one (the key is in this response only)."""

    scope_map = {"GET": "api_key.list", "POST": "api_key.create"}
    queryset = ApiKey.objects.none()
    serializer_class = s.ApiKeySerializer
    ordering_fields = ("created_at", "name")
    search_fields = ("name", "prefix")

    def scoped_queryset(self) -> QuerySet[ApiKey]:
        return ApiKey.objects.filter(organization_id=self.organization_id)

    @extend_schema(request=s.ApiKeyCreateSerializer, responses={201: s.ApiKeyCreatedSerializer})
    def post(self, request: Request, org_slug: str) -> Response:
        data = validated(s.ApiKeyCreateSerializer, request)
        api_key, key = services.api_key_create(
            actor=request.user,
            organization_id=self.organization_id,
            actor_role=self.org.role,
            **data,
        )
        api_key.key = key
        return Response(s.ApiKeyCreatedSerializer(api_key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(OrgScopedAPIView):
    scope_map = {"GET": "api_key.list", "DELETE": "api_key.revoke"}
    serializer_class = s.ApiKeySerializer

    def get(self, request: Request, org_slug: str, api_key_id: uuid.UUID) -> Response:
        return Response(s.ApiKeySerializer(self.get_org_object(ApiKey, id=api_key_id)).data)

    def delete(self, request: Request, org_slug: str, api_key_id: uuid.UUID) -> Response:
        """Revoke the key: requests with it are refused (401) from now on."""
        services.api_key_revoke(
            actor=request.user, api_key=self.get_org_object(ApiKey, id=api_key_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- integrations -------------------------------------------------------------------


class IntegrationListView(ListAPIMixin, OrgScopedAPIView):
    """The organization's provider connections (credentials as hints); connect one."""

    scope_map = {"GET": "integration.list", "POST": "integration.create"}
    queryset = Integration.objects.none()
    serializer_class = s.IntegrationSerializer
    ordering_fields = ("created_at", "name", "provider", "status")
    search_fields = ("name",)

    def scoped_queryset(self) -> QuerySet[Integration]:
        return Integration.objects.filter(organization_id=self.organization_id)

    @extend_schema(request=s.IntegrationCreateSerializer, responses={201: s.IntegrationSerializer})
    def post(self, request: Request, org_slug: str) -> Response:
        data = validated(s.IntegrationCreateSerializer, request)
        integration = services.integration_create(
            actor=request.user, organization_id=self.organization_id, **data
        )
        return Response(s.IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)


class IntegrationDetailView(OrgScopedAPIView):
    scope_map = {
        "GET": "integration.list",
        "PATCH": "integration.update",
        "DELETE": "integration.delete",
    }
    serializer_class = s.IntegrationSerializer

    def get(self, request: Request, org_slug: str, integration_id: uuid.UUID) -> Response:
        integration = self.get_org_object(Integration, id=integration_id)
        return Response(s.IntegrationSerializer(integration).data)

    @extend_schema(request=s.IntegrationUpdateSerializer, responses=s.IntegrationSerializer)
    def patch(self, request: Request, org_slug: str, integration_id: uuid.UUID) -> Response:
        integration = self.get_org_object(Integration, id=integration_id)
        data = validated(s.IntegrationUpdateSerializer, request)
        integration = services.integration_update(
            actor=request.user, integration=integration, **data
        )
        return Response(s.IntegrationSerializer(integration).data)

    def delete(self, request: Request, org_slug: str, integration_id: uuid.UUID) -> Response:
        services.integration_delete(
            actor=request.user, integration=self.get_org_object(Integration, id=integration_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class IntegrationVerifyView(OrgScopedAPIView):
    """Ask the provider whether the stored credentials work (one read-only request) and
    record the answer: ``last_verified_at``, ``status`` and ``last_error`` (the HTTP
    status or failure kind only, never the provider's body or the credential)."""

    scope_map = {"POST": "integration.verify"}
    serializer_class = s.IntegrationSerializer

    @extend_schema(request=None, responses=s.IntegrationSerializer)
    def post(self, request: Request, org_slug: str, integration_id: uuid.UUID) -> Response:
        integration = self.get_org_object(Integration, id=integration_id)
        integration = verify.integration_verify(actor=request.user, integration=integration)
        return Response(s.IntegrationSerializer(integration).data)


# --- the caller's own provider keys -----------------------------------------------------


class UserIntegrationListView(ListAPIMixin, OrgScopedAPIView):
    """Your own provider keys in this organization: nobody else sees them, not even owners."""

    scope_map = {"GET": "user_integration.manage", "POST": "user_integration.manage"}
    queryset = UserIntegration.objects.none()
    serializer_class = s.UserIntegrationSerializer
    ordering_fields = ("created_at", "name", "provider")

    def scoped_queryset(self) -> QuerySet[UserIntegration]:
        return UserIntegration.objects.filter(
            organization_id=self.organization_id, user_id=self.request.user.id
        )

    @extend_schema(
        request=s.UserIntegrationCreateSerializer, responses={201: s.UserIntegrationSerializer}
    )
    def post(self, request: Request, org_slug: str) -> Response:
        data = validated(s.UserIntegrationCreateSerializer, request)
        if self.scoped_queryset().filter(name=data["name"]).exists():
            from config.errors import Conflict

            raise Conflict("You have a key with this name.", code="name_taken")
        row, _ = services.user_integration_save(
            actor=request.user, organization_id=self.organization_id, **data
        )
        return Response(s.UserIntegrationSerializer(row).data, status=status.HTTP_201_CREATED)


class UserIntegrationDetailView(OrgScopedAPIView):
    """One of your own provider keys, by name; ``PUT`` creates or replaces it."""

    scope_map = {
        "GET": "user_integration.manage",
        "PUT": "user_integration.manage",
        "DELETE": "user_integration.manage",
    }
    serializer_class = s.UserIntegrationSerializer

    def _mine(self, name: str) -> UserIntegration:
        return self.get_org_object(UserIntegration, user_id=self.request.user.id, name=name)

    def get(self, request: Request, org_slug: str, user_integration_name: str) -> Response:
        return Response(s.UserIntegrationSerializer(self._mine(user_integration_name)).data)

    @extend_schema(request=s.UserIntegrationSaveSerializer, responses=s.UserIntegrationSerializer)
    def put(self, request: Request, org_slug: str, user_integration_name: str) -> Response:
        data = validated(s.UserIntegrationSaveSerializer, request)
        row, created = services.user_integration_save(
            actor=request.user,
            organization_id=self.organization_id,
            name=user_integration_name,
            **data,
        )
        return Response(
            s.UserIntegrationSerializer(row).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def delete(self, request: Request, org_slug: str, user_integration_name: str) -> Response:
        services.user_integration_delete(
            actor=request.user, user_integration=self._mine(user_integration_name)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- webhooks -----------------------------------------------------------------------


class WebhookListView(ListAPIMixin, OrgScopedAPIView):
    """Webhook endpoints; create one with ``{url, event_types}`` (secret in this response only)."""

    scope_map = {"GET": "webhook.list", "POST": "webhook.create"}
    queryset = WebhookEndpoint.objects.none()
    serializer_class = s.WebhookEndpointSerializer
    ordering_fields = ("created_at", "url", "status")
    search_fields = ("url", "description")

    def scoped_queryset(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.filter(organization_id=self.organization_id)

    @extend_schema(
        request=s.WebhookEndpointCreateSerializer,
        responses={201: s.WebhookEndpointCreatedSerializer},
    )
    def post(self, request: Request, org_slug: str) -> Response:
        data = validated(s.WebhookEndpointCreateSerializer, request)
        endpoint, secret = services.webhook_endpoint_create(
            actor=request.user, organization_id=self.organization_id, **data
        )
        endpoint.secret = secret
        return Response(
            s.WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


class _EndpointView(OrgScopedAPIView):
    def endpoint(self) -> WebhookEndpoint:
        return self.get_org_object(WebhookEndpoint, id=self.kwargs["webhook_id"])


class WebhookDetailView(_EndpointView):
    scope_map = {"GET": "webhook.list", "PATCH": "webhook.update", "DELETE": "webhook.delete"}
    serializer_class = s.WebhookEndpointSerializer

    def get(self, request: Request, org_slug: str, webhook_id: uuid.UUID) -> Response:
        return Response(s.WebhookEndpointSerializer(self.endpoint()).data)

    @extend_schema(request=s.WebhookEndpointUpdateSerializer, responses=s.WebhookEndpointSerializer)
    def patch(self, request: Request, org_slug: str, webhook_id: uuid.UUID) -> Response:
        endpoint = self.endpoint()
        data = validated(s.WebhookEndpointUpdateSerializer, request)
        endpoint = services.webhook_endpoint_update(actor=request.user, endpoint=endpoint, **data)
        return Response(s.WebhookEndpointSerializer(endpoint).data)

    def delete(self, request: Request, org_slug: str, webhook_id: uuid.UUID) -> Response:
        services.webhook_endpoint_delete(actor=request.user, endpoint=self.endpoint())
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(_EndpointView):
    """A new signing secret (shown once); the old one also signs for 24 hours."""

    scope_map = {"POST": "webhook.update"}
    serializer_class = s.WebhookSecretSerializer

    @extend_schema(request=None, responses=s.WebhookSecretSerializer)
    def post(self, request: Request, org_slug: str, webhook_id: uuid.UUID) -> Response:
        endpoint = self.endpoint()
        secret = services.webhook_endpoint_rotate_secret(actor=request.user, endpoint=endpoint)
        return Response(
            {
                "secret": secret,
                "previous_secret_expires_at": endpoint.previous_secret_expires_at,
            }
        )


class WebhookTestView(_EndpointView):
    """Queue a ``webhook.test`` event to this endpoint."""

    scope_map = {"POST": "webhook.update"}
    serializer_class = s.WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: s.WebhookDeliverySerializer})
    def post(self, request: Request, org_slug: str, webhook_id: uuid.UUID) -> Response:
        delivery = services.webhook_test_send(actor=request.user, endpoint=self.endpoint())
        delivery = WebhookDelivery.objects.select_related("message").get(
            organization_id=self.organization_id, id=delivery.id
        )
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event_type = django_filters.CharFilter(
        field_name="message__event_type", help_text="Deliveries of this event type."
    )

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_type"]


class WebhookDeliveryListView(ListAPIMixin, _EndpointView):
    """The endpoint's delivery log, newest first (``status``, ``event_type``)."""

    scope_map = {"GET": "webhook.list"}
    queryset = WebhookDelivery.objects.none()
    serializer_class = s.WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    ordering_fields = ("created_at", "updated_at", "attempt_count")

    def scoped_queryset(self) -> QuerySet[WebhookDelivery]:
        endpoint = self.endpoint()
        return WebhookDelivery.objects.filter(
            organization_id=self.organization_id, endpoint_id=endpoint.id
        ).select_related("message")


class _DeliveryView(_EndpointView):
    def delivery(self) -> WebhookDelivery:
        endpoint = self.endpoint()
        attempts = WebhookAttempt.objects.order_by("number")
        return self.get_org_object(
            WebhookDelivery.objects.select_related("message").prefetch_related(
                Prefetch("attempts", queryset=attempts)
            ),
            endpoint_id=endpoint.id,
            id=self.kwargs["webhook_delivery_id"],
        )


class WebhookDeliveryDetailView(_DeliveryView):
    """One delivery: its payload and every attempt."""

    scope_map = {"GET": "webhook.list"}
    serializer_class = s.WebhookDeliveryDetailSerializer

    def get(self, request: Request, org_slug: str, **kwargs: Any) -> Response:
        return Response(s.WebhookDeliveryDetailSerializer(self.delivery()).data)


class WebhookDeliveryReplayView(_DeliveryView):
    """Send the delivery's message again (same ``webhook-id``), as a new delivery."""

    scope_map = {"POST": "webhook.replay"}
    declared_errors = {"POST": (409,)}  # endpoint_disabled, delivery_pending
    serializer_class = s.WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: s.WebhookDeliverySerializer})
    def post(self, request: Request, org_slug: str, **kwargs: Any) -> Response:
        replay = services.webhook_delivery_replay(actor=request.user, delivery=self.delivery())
        replay = WebhookDelivery.objects.select_related("message").get(
            organization_id=self.organization_id, id=replay.id
        )
        return Response(s.WebhookDeliverySerializer(replay).data, status=status.HTTP_202_ACCEPTED)
