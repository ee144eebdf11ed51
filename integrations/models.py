"""Connections to the outside world: API keys, the credentials vault, outbound webhooks.

Every table but :class:`PlatformSecret` is a tenant table
(:class:`organizations.models.TenantModel`) with RLS in ``migrations/0002_rls.py``:

* API keys and webhooks: owners and admins of the organization only;
* integrations: members and up read, admins and up write;
* user integrations: only the user they belong to (not even the org owner);
* :class:`PlatformSecret`: no privilege at all for the app role (``service_only``),
  read and written only under ``service_context``.

Secrets are stored encrypted (:mod:`integrations.crypto`) or, for API keys,
only as a sha256 hash; the API shows them once, at creation.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.passwords import SecretField
from organizations.models import TenantModel, tenant_fk, user_fk
from organizations.permissions import Role

USER = settings.AUTH_USER_MODEL


class Provider(models.TextChoices):
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible AI"
    GITHUB = "github", "GitHub"
    NETLIFY = "netlify", "Netlify"
    VERCEL = "vercel", "Vercel"
    STRIPE = "stripe", "Stripe"
    HTTP_JSON = "http_json", "HTTP JSON source"
    WEBHOOK = "webhook", "Generic webhook"


# --- API keys ---------------------------------------------------------------------

# A key's role: the org ladder without `billing` (a key never holds an off-ladder role).
API_KEY_ROLE_CHOICES = [
    (r.value, r.label) for r in (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER)
]


class ApiKey(TenantModel):
    """A machine credential of one organization. Only a hash of the key is stored."""

    KEY_ROLES = (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER)

    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=API_KEY_ROLE_CHOICES, default=Role.MEMBER)
    scopes = ArrayField(models.CharField(max_length=60), default=list, blank=True, size=50)
    prefix = models.CharField(max_length=16)
    last_four = models.CharField(max_length=4)
    # SECURITY: never selected by the ORM and not readable by the app role (secret_columns);
    # a key is found by app.api_key_authenticate(hash), a definer function.
    hashed_key = SecretField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    secret_columns = ("hashed_key",)

    class Meta(TenantModel.Meta):
        verbose_name = "API key"
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="apikey_org_idx")
        ]
        constraints = [
            *TenantModel.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "admin", "member", "viewer"]),
                name="apikey_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…{self.last_four})"

    @property
    def hint(self) -> str:
        return f"{self.prefix}…{self.last_four}"


# --- credentials vault ------------------------------------------------------------


class Integration(TenantModel):
    """An organization's connection to a provider; credentials encrypted at rest."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        DISABLED = "disabled"
        ERROR = "error"

    provider = models.CharField(max_length=30, choices=Provider.choices)
    name = models.CharField(max_length=100)
    config = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True)
    credentials_hint = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "name"], name="integration_unique_org_name"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="integration_org_idx")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class UserIntegration(TenantModel):
    """A user's own provider credentials inside an organization: only that user sees it."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=30, choices=Provider.choices)
    name = models.CharField(max_length=100)
    config = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True)
    credentials_hint = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "user", "name"], name="userintegration_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class PlatformSecret(models.Model):
    """An installation secret (not a tenant's). The app role has no privilege on this
    table at all; only ``service_context`` reads or writes it."""

    service_only = True  # grant_runtime_privileges: nothing for the app role

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=100, unique=True)
    value_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


# --- outbound webhooks --------------------------------------------------------------


class WebhookEndpoint(TenantModel):
    class Status(models.TextChoices):
        ENABLED = "enabled"
        DISABLED = "disabled"

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = ArrayField(models.CharField(max_length=80), default=list, size=100)
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ENABLED)
    disabled_reason = models.CharField(max_length=200, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="webhook_org_idx")
        ]

    def __str__(self) -> str:
        return self.url


class WebhookMessage(TenantModel):
    """One event to send (the same message id on every attempt and replay)."""

    event_type = models.CharField(max_length=80)
    payload = models.JSONField()
    audit_event_id = models.UUIDField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "audit_event_id"], name="webhookmessage_unique_event"
            ),
        ]

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"


class WebhookDelivery(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    endpoint = tenant_fk("integrations.WebhookEndpoint", related_name="deliveries")
    message = tenant_fk("integrations.WebhookMessage", related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.CharField(max_length=1024, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["organization", "endpoint", "-created_at", "-id"],
                name="webhookdelivery_endpoint_idx",
            ),
            # The worker's claim: due pending rows, across tenants (service role).
            models.Index(
                fields=["next_attempt_at"],
                name="webhookdelivery_due_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"delivery ({self.status}, {self.attempt_count} attempts)"


class WebhookAttempt(TenantModel):
    """One HTTP attempt of a delivery (append-only)."""

    append_only = True

    delivery = tenant_fk("integrations.WebhookDelivery", related_name="attempts")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_snippet = models.CharField(max_length=1024, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["organization", "delivery", "number"], name="webhookattempt_delivery_idx"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} ({self.status_code or self.error or 'no answer'})"


# --- sync jobs (issue 12 §5): models in models_sync.py ------------------------------
from integrations.models_sync import (  # noqa: E402, F401
    DataMapping,
    IntegrationJob,
    IntegrationRecord,
    Transform,
)
