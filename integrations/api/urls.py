"""Routes of the integrations app (included under ``/api/v1/``)."""

from django.urls import URLPattern, URLResolver, path

from integrations.api import views

org = "orgs/<slug:org_slug>/"
webhook = f"{org}webhooks/<uuid:webhook_id>/"
delivery = f"{webhook}deliveries/<uuid:webhook_delivery_id>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("webhooks/event-types/", views.WebhookEventTypeListView.as_view(), name="event-types"),
    path(f"{org}api-keys/", views.ApiKeyListView.as_view(), name="api-key-list"),
    path(
        f"{org}api-keys/<uuid:api_key_id>/", views.ApiKeyDetailView.as_view(), name="api-key-detail"
    ),
    path(f"{org}integrations/", views.IntegrationListView.as_view(), name="integration-list"),
    path(
        f"{org}integrations/<uuid:integration_id>/",
        views.IntegrationDetailView.as_view(),
        name="integration-detail",
    ),
    path(
        f"{org}integrations/<uuid:integration_id>/verify/",
        views.IntegrationVerifyView.as_view(),
        name="integration-verify",
    ),
    path(
        f"{org}user-integrations/",
        views.UserIntegrationListView.as_view(),
        name="user-integration-list",
    ),
    path(
        f"{org}user-integrations/<slug:user_integration_name>/",
        views.UserIntegrationDetailView.as_view(),
        name="user-integration-detail",
    ),
    path(f"{org}webhooks/", views.WebhookListView.as_view(), name="webhook-list"),
    path(webhook, views.WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        f"{webhook}rotate-secret/",
        views.WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    path(f"{webhook}test/", views.WebhookTestView.as_view(), name="webhook-test"),
    path(
        f"{webhook}deliveries/",
        views.WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path(delivery, views.WebhookDeliveryDetailView.as_view(), name="webhook-delivery-detail"),
    path(
        f"{delivery}replay/",
        views.WebhookDeliveryReplayView.as_view(),
        name="webhook-delivery-replay",
    ),
]

# Mappings and sync jobs (issue 12 §5).
from integrations.api import sync_urls  # noqa: E402

urlpatterns += sync_urls.urlpatterns
