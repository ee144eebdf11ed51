"""The demo seed's integrations, and the staff screens (secrets redacted)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.seeding import DEMO_PASSWORD
from integrations import crypto
from integrations.models import ApiKey, Integration, WebhookDelivery, WebhookEndpoint
from integrations.seeding import DEMO_API_KEY
from organizations.tenancy import service_context
from tests.helpers import make_user
from tests.security.objects import fill_tenant_tables

pytestmark = pytest.mark.django_db


def test_the_demo_seed_gives_acme_an_integration_a_webhook_with_deliveries_and_a_key():
    call_command("seed")
    call_command("seed")  # idempotent
    with service_context(reason="test read"):
        assert Integration.objects.filter(organization__slug="acme").count() == 2
        assert WebhookEndpoint.objects.filter(organization__slug="acme").count() == 1
        assert WebhookDelivery.objects.filter(organization__slug="acme").count() == 3
        assert ApiKey.objects.filter(organization__slug="acme").count() == 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {DEMO_API_KEY}")
    response = client.get("/api/v1/orgs/acme/projects/")
    assert response.status_code == 200 and response.json()["results"]
    assert client.get("/api/v1/orgs/globex/projects/").status_code == 404


def test_the_demo_seed_shows_a_sync_source_with_mappings_and_a_partial_job():
    call_command("seed")
    call_command("seed")  # idempotent
    member = APIClient()
    token = member.post(
        "/api/v1/auth/token/",
        {"email": "member@acme.test", "password": DEMO_PASSWORD},
        format="json",
    ).json()["access"]
    member.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    listed = member.get("/api/v1/orgs/acme/integrations/").json()["results"]
    source = next(i for i in listed if i["provider"] == "http_json")
    base = f"/api/v1/orgs/acme/integrations/{source['id']}/"
    mappings = member.get(f"{base}mappings/").json()["results"]
    assert {(m["source_field"], m["target_field"], m["order"]) for m in mappings} == {
        ("full_name", "name", 0),
        ("email", "email", 1),
        ("stage", "status", 2),
    }
    jobs = member.get(f"{base}jobs/").json()["results"]
    assert len(jobs) == 1
    assert (jobs[0]["status"], jobs[0]["records_written"], jobs[0]["records_failed"]) == (
        "partial",
        3,
        2,
    )


def test_the_demo_key_is_refused_in_production(settings):
    call_command("seed")
    settings.PRODUCTION = True
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {DEMO_API_KEY}")
    assert client.get("/api/v1/orgs/acme/projects/").status_code == 401


def test_serve_prints_the_demo_key():
    from organizations.management.commands.serve import Command

    out = io.StringIO()
    command = Command(stdout=out)
    command.banner("http://127.0.0.1:8000")
    assert DEMO_API_KEY in out.getvalue()


@pytest.fixture
def staff_client(personas) -> Client:
    client = Client()
    client.force_login(make_user("staff@example.test", is_staff=True, is_superuser=True))
    return client


def test_every_integrations_admin_page_renders_without_secrets(staff_client, personas):
    fill_tenant_tables(personas)
    with service_context(reason="test"):
        from integrations.services import platform_secret_set

        platform_secret_set(name="demo", value="platform-secret-value")
        integration = Integration.objects.get(organization=personas.org)
        secret = crypto.decrypt_json(integration.credentials_encrypted)["api_key"]
        endpoint = WebhookEndpoint.objects.get(organization=personas.org)
        hook_secret = crypto.decrypt(endpoint.secret_encrypted)
        ids = {
            "apikey": ApiKey.objects.first().id,
            "integration": integration.id,
            "webhookendpoint": endpoint.id,
            "webhookdelivery": WebhookDelivery.objects.first().id,
        }
    for model in (
        "apikey",
        "integration",
        "userintegration",
        "platformsecret",
        "webhookendpoint",
        "webhookdelivery",
    ):
        page = staff_client.get(f"/admin/integrations/{model}/")
        assert page.status_code == 200, model
        text = page.content.decode()
        assert "platform-secret-value" not in text and secret not in text
    for model, pk in ids.items():
        page = staff_client.get(f"/admin/integrations/{model}/{pk}/change/")
        assert page.status_code == 200, model
        text = page.content.decode()
        assert secret not in text and hook_secret not in text
        assert "gAAAAA" not in text  # no Fernet token either


def test_the_admin_revokes_a_key_through_the_service(staff_client, personas):
    fill_tenant_tables(personas)
    with service_context(reason="test"):
        key = ApiKey.objects.first()
    response = staff_client.post(
        "/admin/integrations/apikey/",
        {"action": "revoke", "_selected_action": [str(key.id)]},
    )
    assert response.status_code == 302
    with service_context(reason="test"):
        key.refresh_from_db()
        assert key.revoked_at is not None
        from audit.models import AuditEvent

        assert AuditEvent.objects.filter(action="api_key.revoked", target_id=str(key.id)).exists()


def test_every_admin_action_declares_allowed_permissions():
    from django.contrib import admin

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "integrations":
            continue
        for action in model_admin.actions or []:
            func = getattr(model_admin, action)
            assert getattr(func, "allowed_permissions", None), f"{model.__name__}.{action}"
