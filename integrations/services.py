"""Every write of the integrations app: API keys, the credentials vault, webhooks.

Secrets never reach the audit trail: events record names, roles, providers and
which credential fields changed, never their values (nor hashes of them).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from billing.quotas import quota_check_count
from config.errors import Conflict, Invalid, conflict_on_duplicate, invalid_choice_message
from integrations import crypto, outbound, webhooks
from integrations.apikeys import generate_key, hash_key, valid_scope
from integrations.destinations import URL_CONFIG_KEYS, destination_changes
from integrations.event_types import ALL, EVENT_TYPES, SUBSCRIBABLE
from integrations.models import (
    ApiKey,
    Integration,
    PlatformSecret,
    Provider,
    UserIntegration,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from organizations.permissions import RANK

MAX_CREDENTIAL_FIELDS = 10


def _redacted(credentials: dict[str, Any]) -> list[str]:
    """What the audit trail records of credentials: the field names only."""
    return sorted(credentials)


# --- API keys ---------------------------------------------------------------------


@transaction.atomic
def api_key_create(
    *,
    actor: User,
    organization_id: uuid.UUID,
    actor_role: str,
    name: str,
    role: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key (role at most the creator's); returns it and the secret, shown once."""
    if RANK.get(role, 99) > RANK.get(actor_role, 0):
        raise Invalid(
            "A key's role cannot be higher than yours.",
            code="role_too_high",
            details={"role": [f"At most {actor_role}."]},
        )
    bad_scopes = [s for s in scopes or [] if not valid_scope(s)]
    if bad_scopes:
        raise Invalid(
            "Unknown scopes.",
            details={
                "scopes": [
                    f"Not an action (or action prefix) an API key may perform: {s}"
                    for s in bad_scopes
                ]
            },
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid(
            "The expiry must be in the future.", details={"expires_at": ["Must be in the future."]}
        )
    key = generate_key()
    api_key = ApiKey.objects.create(
        organization_id=organization_id,
        name=name,
        role=role,
        scopes=sorted(set(scopes or [])),
        prefix=settings.API_KEY_PREFIX,
        last_four=key[-4:],
        hashed_key=hash_key(key),
        expires_at=expires_at,
        created_by=actor,
    )
    audit_record(
        action="api_key.created",
        actor=actor,
        organization_id=organization_id,
        target=api_key,
        changes={
            "name": name,
            "role": role,
            "scopes": api_key.scopes,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "hint": api_key.hint,
        },
    )
    return api_key, key


@transaction.atomic
def api_key_revoke(*, actor: User, api_key: ApiKey) -> ApiKey:
    """Revoke a key: every request with it is a 401 from now on."""
    updated = ApiKey.objects.filter(
        organization_id=api_key.organization_id, id=api_key.id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), updated_at=timezone.now())
    if not updated:
        raise Conflict("This key is already revoked.", code="already_revoked")
    audit_record(
        action="api_key.revoked",
        actor=actor,
        organization_id=api_key.organization_id,
        target=api_key,
        changes={"name": api_key.name, "hint": api_key.hint},
    )
    api_key.refresh_from_db()
    return api_key


# --- credentials vault ------------------------------------------------------------


def _check_config(config: dict[str, Any]) -> None:
    for key in URL_CONFIG_KEYS:
        if config.get(key):
            try:
                outbound.vet_url(str(config[key]))
            except outbound.OutboundRefused as exc:
                raise outbound.OutboundRefused(
                    exc.message, details={f"config.{key}": exc.details.get("url", [exc.message])}
                ) from exc


def _check_credentials(credentials: dict[str, Any]) -> dict[str, str]:
    if len(credentials) > MAX_CREDENTIAL_FIELDS or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in credentials.items()
    ):
        raise Invalid(
            "Credentials are a small object of strings.",
            details={"credentials": ["An object of at most 10 string values."]},
        )
    return credentials


def _hint(credentials: dict[str, str]) -> str:
    if not credentials:
        return ""
    main = (
        credentials.get("api_key") or credentials.get("token") or next(iter(credentials.values()))
    )
    return crypto.hint(main)


def _name_taken() -> Conflict:
    return Conflict(
        "An integration with this name exists.",
        code="name_taken",
        details={"name": ["This name is taken."]},
    )


@transaction.atomic
def integration_create(
    *,
    actor: User,
    organization_id: uuid.UUID,
    provider: str,
    name: str,
    config: dict[str, Any] | None = None,
    credentials: dict[str, str] | None = None,
) -> Integration:
    config = config or {}
    credentials = _check_credentials(credentials or {})
    _check_config(config)
    with conflict_on_duplicate(_name_taken()):
        integration = Integration.objects.create(
            organization_id=organization_id,
            provider=provider,
            name=name,
            config=config,
            credentials_encrypted=crypto.encrypt_json(credentials),
            credentials_hint=_hint(credentials),
            created_by=actor,
        )
    audit_record(
        action="integration.created",
        actor=actor,
        organization_id=organization_id,
        target=integration,
        changes={
            "provider": provider,
            "name": name,
            "config": config,
            "credentials": _redacted(credentials),
        },
    )
    return integration


def _store_credentials(
    row: Integration | UserIntegration,
    *,
    credentials: dict[str, str] | None,
    moved: list[str],
    changes: dict[str, Any],
) -> None:
    """The vault's one rule for credentials on an update (``integrations.destinations``):
    new credentials replace the stored ones; a moved destination (``moved`` names what
    moved it) without new credentials clears them. ``changes`` (the audit event) gets
    the field names and ``credentials_action``, never a value."""
    if moved:
        changes["destination_changed"] = moved
    if credentials is not None:
        credentials = _check_credentials(credentials)
        row.credentials_encrypted = crypto.encrypt_json(credentials)
        row.credentials_hint = _hint(credentials)
        changes["credentials"] = _redacted(credentials)
        changes["credentials_action"] = "replaced"
    elif moved and row.credentials_encrypted:
        # SECURITY: the stored secret was given for the old destination, maybe by
        # someone else (an owner); whoever points the integration elsewhere brings
        # their own, or the new destination gets none.
        row.credentials_encrypted = crypto.encrypt_json({})
        row.credentials_hint = ""
        changes["credentials"] = []
        changes["credentials_action"] = "cleared"


@transaction.atomic
def integration_update(
    *,
    actor: User,
    integration: Integration,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    credentials: dict[str, str] | None = None,
    status: str | None = None,
) -> Integration:
    """Change an integration. Changing where its credentials are sent (a destination
    field of its provider: base URL, source URL, site, team...) clears the stored
    credentials unless ``credentials`` comes with it (then they replace them)."""
    changes: dict[str, Any] = {}
    config_before = dict(integration.config or {})
    if name is not None and name != integration.name:
        integration.name, changes["name"] = name, name
    if config is not None and config != integration.config:
        _check_config(config)
        integration.config, changes["config"] = config, config
    moved = destination_changes(
        provider_before=integration.provider,
        config_before=config_before,
        provider_after=integration.provider,
        config_after=integration.config,
    )
    _store_credentials(integration, credentials=credentials, moved=moved, changes=changes)
    if moved:
        # The last verdict was about the old destination.
        integration.last_verified_at = None
    if status is not None and status != integration.status:
        integration.status, changes["status"] = status, status
    if changes:
        with conflict_on_duplicate(_name_taken()):
            integration.save()
        audit_record(
            action="integration.updated",
            actor=actor,
            organization_id=integration.organization_id,
            target=integration,
            changes=changes,
        )
    return integration


@transaction.atomic
def integration_delete(*, actor: User, integration: Integration) -> None:
    audit_record(
        action="integration.deleted",
        actor=actor,
        organization_id=integration.organization_id,
        target=integration,
        changes={"provider": integration.provider, "name": integration.name},
    )
    Integration.objects.filter(
        organization_id=integration.organization_id, id=integration.id
    ).delete()


@transaction.atomic
def user_integration_save(
    *,
    actor: User,
    organization_id: uuid.UUID,
    name: str,
    provider: str | None = None,
    config: dict[str, Any] | None = None,
    credentials: dict[str, str] | None = None,
) -> tuple[UserIntegration, bool]:
    """Create or replace the caller's own integration called ``name``; (row, created).
    As for an organization's integration, a new destination (provider or a destination
    field of its config) without new credentials clears the stored ones."""
    existing = UserIntegration.objects.filter(
        organization_id=organization_id, user=actor, name=name
    ).first()
    if existing is None and provider is None:
        raise Invalid("A provider is needed.", details={"provider": ["This field is required."]})
    row = existing or UserIntegration(organization_id=organization_id, user=actor, name=name)
    provider_before, config_before = row.provider, dict(row.config or {})
    changes: dict[str, Any] = {"name": name}
    if provider is not None:
        row.provider = changes["provider"] = provider
    if config is not None:
        _check_config(config)
        row.config = changes["config"] = config
    moved: list[str] = []
    if existing is not None:
        moved = destination_changes(
            provider_before=provider_before,
            config_before=config_before,
            provider_after=row.provider,
            config_after=row.config,
        )
    _store_credentials(row, credentials=credentials, moved=moved, changes=changes)
    row.save()
    audit_record(
        action="user_integration.created" if existing is None else "user_integration.updated",
        actor=actor,
        organization_id=organization_id,
        target=row,
        changes=changes,
    )
    return row, existing is None


@transaction.atomic
def user_integration_delete(*, actor: User, user_integration: UserIntegration) -> None:
    audit_record(
        action="user_integration.deleted",
        actor=actor,
        organization_id=user_integration.organization_id,
        target=user_integration,
        changes={"name": user_integration.name, "provider": user_integration.provider},
    )
    UserIntegration.objects.filter(
        organization_id=user_integration.organization_id, id=user_integration.id
    ).delete()


def platform_secret_set(*, name: str, value: str, actor: User | None = None) -> PlatformSecret:
    """Store an installation secret (call inside ``service_context``)."""
    secret, created = PlatformSecret.objects.update_or_create(
        name=name, defaults={"value_encrypted": crypto.encrypt(value)}
    )
    audit_record(
        action="platform_secret.created" if created else "platform_secret.updated",
        actor=actor,
        target=secret,
        changes={"name": name},
    )
    return secret


def platform_secret_get(name: str) -> str | None:
    """An installation secret in clear, or None (call inside ``service_context``)."""
    secret = PlatformSecret.objects.filter(name=name).first()
    return crypto.decrypt(secret.value_encrypted) if secret else None


# --- webhooks ---------------------------------------------------------------------


def _check_event_types(event_types: list[str]) -> list[str]:
    types = sorted(set(event_types))
    if not types or ("*" in types and len(types) > 1):
        raise Invalid(
            "Name the event types, or only '*' for all.",
            details={"event_types": ["A non-empty list of event names, or ['*']."]},
        )
    bad = [t for t in types if t not in EVENT_TYPES and t != ALL]
    if bad:
        raise Invalid(
            "Unknown event type: see GET /api/v1/webhooks/event-types/.",
            details={"event_types": [invalid_choice_message(b, SUBSCRIBABLE) for b in bad]},
        )
    return types


@transaction.atomic
def webhook_endpoint_create(
    *,
    actor: User,
    organization_id: uuid.UUID,
    url: str,
    event_types: list[str],
    description: str = "",
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint (URL vetted by the SSRF guard); returns it and its secret, shown once."""
    outbound.vet_url(url)
    types = _check_event_types(event_types)
    # Billing: refused with 402 over the plan's limit (locks the subscription row).
    quota_check_count(organization_id=organization_id, metric="webhook_endpoints")
    secret = webhooks.generate_secret()
    endpoint = WebhookEndpoint.objects.create(
        organization_id=organization_id,
        url=url,
        description=description,
        event_types=types,
        secret_encrypted=crypto.encrypt(secret),
        created_by=actor,
    )
    audit_record(
        action="webhook.created",
        actor=actor,
        organization_id=organization_id,
        target=endpoint,
        changes={"url": url, "event_types": types},
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    actor: User,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    status: str | None = None,
) -> WebhookEndpoint:
    changes: dict[str, Any] = {}
    if url is not None and url != endpoint.url:
        outbound.vet_url(url)
        endpoint.url = changes["url"] = url
    if event_types is not None:
        types = _check_event_types(event_types)
        if types != endpoint.event_types:
            endpoint.event_types = changes["event_types"] = types
    if description is not None and description != endpoint.description:
        endpoint.description = changes["description"] = description
    if status is not None and status != endpoint.status:
        endpoint.status = changes["status"] = status
        if status == WebhookEndpoint.Status.ENABLED:
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
        else:
            endpoint.disabled_reason = "Disabled by a user."
    if changes:
        endpoint.save()
        audit_record(
            action="webhook.updated",
            actor=actor,
            organization_id=endpoint.organization_id,
            target=endpoint,
            changes=changes,
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, actor: User, endpoint: WebhookEndpoint) -> str:
    """A new secret; the old one keeps signing (alongside) for 24 hours."""
    secret = webhooks.generate_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = timezone.now() + settings.WEBHOOK_ROTATION_OVERLAP
    endpoint.secret_encrypted = crypto.encrypt(secret)
    endpoint.save()
    audit_record(
        action="webhook.secret_rotated",
        actor=actor,
        organization_id=endpoint.organization_id,
        target=endpoint,
        changes={"previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat()},
    )
    return secret


@transaction.atomic
def webhook_endpoint_delete(*, actor: User, endpoint: WebhookEndpoint) -> None:
    audit_record(
        action="webhook.deleted",
        actor=actor,
        organization_id=endpoint.organization_id,
        target=endpoint,
        changes={"url": endpoint.url},
    )
    WebhookEndpoint.objects.filter(
        organization_id=endpoint.organization_id, id=endpoint.id
    ).delete()


def _new_delivery(endpoint: WebhookEndpoint, message: WebhookMessage) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        organization_id=endpoint.organization_id,
        endpoint_id=endpoint.id,
        message_id=message.id,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(webhooks.enqueue_delivery, robust=True)
    return delivery


@transaction.atomic
def webhook_test_send(*, actor: User, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a ``webhook.test`` event to this endpoint only."""
    message = WebhookMessage.objects.create(
        organization_id=endpoint.organization_id,
        event_type="webhook.test",
        payload={
            "type": "webhook.test",
            "timestamp": timezone.now().isoformat(),
            "data": {"organization_id": str(endpoint.organization_id), "test": True},
        },
    )
    delivery = _new_delivery(endpoint, message)
    audit_record(
        action="webhook.tested",
        actor=actor,
        organization_id=endpoint.organization_id,
        target=endpoint,
        changes={"delivery": str(delivery.id)},
    )
    return delivery


@transaction.atomic
def webhook_delivery_replay(*, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's message again (same message id, a new delivery with its own log).

    Refused (409 ``delivery_pending``) while a delivery of this message to this endpoint
    is still pending (the original retrying, or an earlier replay): the receiver would
    get the same ``webhook-id`` twice for one outcome. Replay once it has succeeded or
    failed for good. Replays of one message are serialized on its row, so two at once
    cannot both pass the check."""
    endpoint = WebhookEndpoint.objects.get(
        organization_id=delivery.organization_id, id=delivery.endpoint_id
    )
    if endpoint.status != WebhookEndpoint.Status.ENABLED:
        raise Conflict("Enable the endpoint before replaying.", code="endpoint_disabled")
    message = WebhookMessage.objects.select_for_update().get(
        organization_id=delivery.organization_id, id=delivery.message_id
    )
    pending = (
        WebhookDelivery.objects.filter(
            organization_id=delivery.organization_id,
            endpoint_id=endpoint.id,
            message_id=message.id,
            status=WebhookDelivery.Status.PENDING,
        )
        .order_by("created_at")
        .first()
    )
    if pending is not None:
        when = pending.next_attempt_at.isoformat() if pending.next_attempt_at else "soon"
        raise Conflict(
            "This message is still being delivered (next attempt at "
            f"{when}); replay it once that delivery has succeeded or failed.",
            code="delivery_pending",
            details={"pending_delivery": str(pending.id), "next_attempt_at": when},
        )
    replay = _new_delivery(endpoint, message)
    audit_record(
        action="webhook.replayed",
        actor=actor,
        organization_id=delivery.organization_id,
        target=endpoint,
        changes={"delivery": str(delivery.id), "replay": str(replay.id)},
    )
    return replay


__all__ = [
    "Provider",
    "api_key_create",
    "api_key_revoke",
    "integration_create",
    "integration_delete",
    "integration_update",
    "platform_secret_get",
    "platform_secret_set",
    "user_integration_delete",
    "user_integration_save",
    "webhook_delivery_replay",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_update",
    "webhook_test_send",
]
