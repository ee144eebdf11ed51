"""The route matrix's object makers for the integrations routes.

:data:`INTEGRATIONS_MAKERS` gives a value for every URL kwarg the integrations routes
introduce (kwarg names are global across apps: ``tests/security/objects.py``
refuses a name two apps both claim). Makers are idempotent and also fill every
integrations table with rows, for the raw-SQL isolation tests.

Rows are written directly in the service context (no SSRF check, no network): the
webhook URL below is never contacted, because no test here runs the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from integrations import crypto
from integrations.apikeys import generate_key, hash_key
from integrations.models import (
    ApiKey,
    DataMapping,
    Integration,
    IntegrationJob,
    IntegrationRecord,
    UserIntegration,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from integrations.webhooks import generate_secret
from organizations.tenancy import service_context
from tests.helpers import Personas

USER_INTEGRATION_NAME = "my-ai"
# Personas that may keep their own provider keys (member and up): each gets one with
# the same name, so the by-name route finds the caller's own.
USER_INTEGRATION_PERSONAS = ("owner", "admin", "member")


def api_key(p: Personas) -> ApiKey:
    with service_context(reason="test fixture: api key"):
        found = ApiKey.objects.filter(organization=p.org, name="matrix").first()
        if found:
            return found
        key = generate_key()
        return ApiKey.objects.create(
            organization=p.org,
            name="matrix",
            role="member",
            prefix="saas_",
            last_four=key[-4:],
            hashed_key=hash_key(key),
            created_by=p.users["admin"],
        )


def integration(p: Personas) -> Integration:
    with service_context(reason="test fixture: integration"):
        found = Integration.objects.filter(organization=p.org, name="matrix").first()
        return found or Integration.objects.create(
            organization=p.org,
            provider="openai_compatible",
            name="matrix",
            config={"base_url": "https://ai.example.test/v1"},
            credentials_encrypted=crypto.encrypt_json({"api_key": "sk-matrix-0000000000"}),
            credentials_hint="sk-…0000",
            created_by=p.users["owner"],
        )


def user_integration_name(p: Personas) -> str:
    with service_context(reason="test fixture: user integrations"):
        for persona in USER_INTEGRATION_PERSONAS:
            UserIntegration.objects.get_or_create(
                organization=p.org,
                user=p.users[persona],
                name=USER_INTEGRATION_NAME,
                defaults={
                    "provider": "openai_compatible",
                    "credentials_encrypted": crypto.encrypt_json(
                        {"api_key": f"sk-own-{persona}-123456"}
                    ),
                    "credentials_hint": "sk-…3456",
                },
            )
    return USER_INTEGRATION_NAME


def webhook(p: Personas) -> WebhookEndpoint:
    with service_context(reason="test fixture: webhook"):
        found = WebhookEndpoint.objects.filter(organization=p.org).first()
        return found or WebhookEndpoint.objects.create(
            organization=p.org,
            url="https://receiver.example.test/hook",
            event_types=["*"],
            secret_encrypted=crypto.encrypt(generate_secret()),
            created_by=p.users["owner"],
        )


def webhook_delivery(p: Personas) -> WebhookDelivery:
    endpoint = webhook(p)
    with service_context(reason="test fixture: webhook delivery"):
        found = WebhookDelivery.objects.filter(organization=p.org, endpoint=endpoint).first()
        if found:
            return found
        message = WebhookMessage.objects.create(
            organization=p.org,
            event_type="project.created",
            payload={"type": "project.created", "data": {}},
        )
        return WebhookDelivery.objects.create(
            organization=p.org,
            endpoint=endpoint,
            message=message,
            status="failed",
            attempt_count=1,
            last_status_code=500,
        )


# --- sync jobs (issue 12 section 5) ---------------------------------------------------


def data_mapping(p: Personas) -> DataMapping:
    found_integration = integration(p)
    with service_context(reason="test fixture: data mapping"):
        found = DataMapping.objects.filter(
            organization=p.org, integration=found_integration
        ).first()
        return found or DataMapping.objects.create(
            organization=p.org,
            integration=found_integration,
            source_field="name",
            target_field="title",
            transform="trim",
        )


def integration_job(p: Personas) -> IntegrationJob:
    found_integration = integration(p)
    with service_context(reason="test fixture: integration job"):
        found = IntegrationJob.objects.filter(
            organization=p.org, integration=found_integration
        ).first()
        return found or IntegrationJob.objects.create(
            organization=p.org,
            integration=found_integration,
            kind="sync",
            status="succeeded",
            progress=100,
            records_read=1,
            records_written=1,
            created_by=p.users["admin"],
        )


INTEGRATIONS_MAKERS: dict[str, Callable[[Personas], Any]] = {
    "api_key_id": lambda p: api_key(p).id,
    "integration_id": lambda p: integration(p).id,
    "user_integration_name": user_integration_name,
    "webhook_id": lambda p: webhook(p).id,
    "webhook_delivery_id": lambda p: webhook_delivery(p).id,
    "mapping_id": lambda p: data_mapping(p).id,
    "integration_job_id": lambda p: integration_job(p).id,
}


def fill_tables(personas: Personas) -> None:
    """Put rows in the integrations tables no URL kwarg reaches (the makers fill the rest)."""
    delivery = webhook_delivery(personas)
    with service_context(reason="test fixture: webhook attempt"):
        if not WebhookAttempt.objects.filter(delivery=delivery).exists():
            WebhookAttempt.objects.create(
                organization=personas.org,
                delivery=delivery,
                number=1,
                status_code=500,
                response_snippet="boom",
                created_at=timezone.now(),
            )
    job = integration_job(personas)
    with service_context(reason="test fixture: integration record"):
        IntegrationRecord.objects.get_or_create(
            organization=personas.org,
            integration_id=job.integration_id,
            external_id="matrix-1",
            defaults={"data": {"title": "matrix"}, "job": job},
        )
