"""Demo integrations (``seed``): acme gets an AI integration, a webhook endpoint with a
few past deliveries, an API key whose value ``make run`` prints, and an HTTP JSON
source (a CRM's contacts) with three field mappings and a finished sync job that ended
``partial`` (two records failed, listed with their errors).

The demo key is deterministic (development only: ``seed`` refuses to run in
production, and the API refuses this key when ``DJANGO_ENV=production``). The demo
endpoint is disabled (its URL is a placeholder nobody answers): point it at your
receiver and enable it to see live deliveries. Rows are written directly, not through
the services, so seeding resolves no host names and sends nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from integrations import crypto
from integrations.apikeys import DEMO_API_KEY, hash_key
from integrations.models import (
    ApiKey,
    DataMapping,
    Integration,
    IntegrationJob,
    IntegrationRecord,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from organizations.models import Organization

DEMO_WEBHOOK_SECRET = "whsec_ZGVtby13ZWJob29rLXNlY3JldC1mb3ItZGV2ZWxvcG1lbnQ="  # noqa: S105


def seed_demo(ctx: dict[str, Any]) -> None:
    _seed_sync_source(ctx)
    users = ctx["users"]
    org = Organization.objects.get(slug="acme")
    admin = users["admin@acme.test"]
    if not ApiKey.objects.filter(hashed_key=hash_key(DEMO_API_KEY)).exists():
        ApiKey.objects.create(
            organization=org,
            name="Demo key",
            role="member",
            prefix="saas_",
            last_four=DEMO_API_KEY[-4:],
            hashed_key=hash_key(DEMO_API_KEY),
            created_by=admin,
        )
    Integration.objects.get_or_create(
        organization=org,
        name="Demo AI",
        defaults={
            "provider": "openai_compatible",
            "config": {"base_url": "https://ai.example.invalid/v1", "model": "demo-model"},
            "credentials_encrypted": crypto.encrypt_json({"api_key": "sk-demo-0000000000000000"}),
            "credentials_hint": "sk-…0000",
            "created_by": users["owner@acme.test"],
        },
    )
    if WebhookEndpoint.objects.filter(organization=org).exists():
        return
    endpoint = WebhookEndpoint.objects.create(
        organization=org,
        url="https://hooks.acme.example.invalid/saas",
        description="Demo endpoint: point it at your receiver, then enable it",
        event_types=["*"],
        secret_encrypted=crypto.encrypt(DEMO_WEBHOOK_SECRET),
        status=WebhookEndpoint.Status.DISABLED,
        disabled_reason="Demo endpoint (placeholder URL).",
        created_by=admin,
    )
    now = timezone.now()
    for i, (event, outcome) in enumerate(
        [("project.created", 200), ("member.role_changed", 200), ("project.deleted", 500)]
    ):
        message = WebhookMessage.objects.create(
            organization=org,
            event_type=event,
            payload={"type": event, "timestamp": now.isoformat(), "data": {"demo": True}},
        )
        ok = outcome == 200
        delivery = WebhookDelivery.objects.create(
            organization=org,
            endpoint=endpoint,
            message=message,
            status=WebhookDelivery.Status.SUCCEEDED if ok else WebhookDelivery.Status.FAILED,
            attempt_count=1,
            last_status_code=outcome,
            last_response='{"ok": true}' if ok else "Internal Server Error",
            delivered_at=now - timedelta(minutes=10 - i) if ok else None,
        )
        WebhookAttempt.objects.create(
            organization=org,
            delivery=delivery,
            number=1,
            status_code=outcome,
            response_snippet=delivery.last_response,
            duration_ms=42,
        )


def _seed_sync_source(ctx: dict[str, Any]) -> None:
    org = Organization.objects.get(slug="acme")
    admin = ctx["users"]["admin@acme.test"]
    source, created = Integration.objects.get_or_create(
        organization=org,
        name="Demo CRM contacts",
        defaults={
            "provider": "http_json",
            "config": {"url": "https://crm.acme.example.invalid/api/contacts"},
            "created_by": admin,
        },
    )
    if not created:
        return
    for order, (source_field, target_field, transform, extra) in enumerate(
        [
            ("full_name", "name", "trim", {"required": True}),
            ("email", "email", "lower", {"required": True}),
            ("stage", "status", "map", {"map_table": {"won": "customer", "open": "lead"}}),
        ]
    ):
        DataMapping.objects.create(
            organization=org,
            integration=source,
            source_field=source_field,
            target_field=target_field,
            transform=transform,
            order=order,
            created_by=admin,
            **extra,
        )
    now = timezone.now()
    job = IntegrationJob.objects.create(
        organization=org,
        integration=source,
        kind=IntegrationJob.Kind.SYNC,
        status=IntegrationJob.Status.PARTIAL,
        progress=100,
        records_read=5,
        records_written=3,
        records_failed=2,
        failed_records=[
            {"record": "c-4", "errors": {"email": ["This field is required."]}},
            {"record": "c-5", "errors": {"full_name": ["This field is required."]}},
        ],
        created_by=admin,
        started_at=now - timedelta(minutes=30, seconds=4),
        finished_at=now - timedelta(minutes=30),
    )
    contacts = [
        ("c-1", "Ada Lovelace", "ada@example.invalid", "customer"),
        ("c-2", "Grace Hopper", "grace@example.invalid", "lead"),
        ("c-3", "Alan Turing", "alan@example.invalid", "lead"),
    ]
    IntegrationRecord.objects.bulk_create(
        IntegrationRecord(
            organization=org,
            integration=source,
            external_id=external_id,
            data={"name": name, "email": email, "status": status},
            job=job,
        )
        for external_id, name, email, status in contacts
    )
