"""Verifying an integration's credentials with its provider ("test connection"), against
fake providers on 127.0.0.1: the verdict is recorded on the integration, and a refusal
says only the HTTP status - never the credential, never the provider's body."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from integrations import crypto
from integrations.models import Integration
from organizations.tenancy import service_context
from tests.integrations.support import Received, receiver, stub_dns

pytestmark = pytest.mark.django_db

GOOD = "sk-verify-good-0123456789"
PROVIDER_SECRET = "provider-trace-should-not-leak-91"


def fake_provider(received: Received) -> tuple[int, bytes, dict[str, str]]:
    """Answers 200 to the good key on any GET, 401 with a chatty body otherwise."""
    if received.method == "GET" and received.headers.get("authorization") == f"Bearer {GOOD}":
        return 200, b'{"data": []}', {"content-type": "application/json"}
    body = {
        "error": {"message": f"bad key {received.headers.get('authorization')} {PROVIDER_SECRET}"}
    }
    return 401, json.dumps(body).encode(), {"content-type": "application/json"}


@pytest.fixture
def provider(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with receiver(fake_provider) as server:
        yield server


def _make(personas, provider_name, config, credentials, status="active"):
    with service_context(reason="test fixture"):
        return Integration.objects.create(
            organization=personas.org,
            provider=provider_name,
            name=f"{provider_name}-{len(config)}-{status}",
            config=config,
            credentials_encrypted=crypto.encrypt_json(credentials),
            status=status,
        )


def _verify(personas, integration, persona="admin"):
    return personas.client(persona).post(
        f"/api/v1/orgs/acme/integrations/{integration.id}/verify/", format="json"
    )


@pytest.mark.parametrize(
    "provider_name, base_path, asked, credential_key",
    [
        ("openai_compatible", "/v1", "/v1/models", "api_key"),
        ("github", "", "/user", "token"),
        ("netlify", "", "/api/v1/user", "token"),
        ("vercel", "", "/v2/user", "token"),
        ("stripe", "", "/v1/balance", "secret_key"),
    ],
)
def test_good_credentials_are_verified_with_one_read_only_request(
    personas, provider, provider_name, base_path, asked, credential_key
):
    integration = _make(
        personas,
        provider_name,
        {"base_url": provider.url(base_path)},
        {credential_key: GOOD},
        status="error",
    )

    response = _verify(personas, integration)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["last_error"]) == ("active", "")
    assert body["last_verified_at"] is not None
    assert [(r.method, r.path) for r in provider.requests] == [("GET", asked)]


def test_an_http_json_source_is_verified_by_reading_its_first_page(personas, provider):
    integration = _make(personas, "http_json", {"url": provider.url("/records")}, {"token": GOOD})
    response = _verify(personas, integration)
    assert response.json()["status"] == "active"
    assert provider.requests[0].path == "/records"


def test_refused_credentials_are_recorded_without_the_key_or_the_provider_s_body(
    personas, provider
):
    bad = "sk-verify-bad-should-never-leak"
    integration = _make(
        personas, "openai_compatible", {"base_url": provider.url("/v1")}, {"api_key": bad}
    )

    response = _verify(personas, integration)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "error"
    assert body["last_error"] == "OpenAI-compatible AI rejected the credentials (HTTP 401)."
    assert body["last_verified_at"] is None
    with service_context(reason="test"):
        event = AuditEvent.objects.get(action="integration.verified", target_id=str(integration.id))
    for text in (response.content.decode(), json.dumps(event.changes)):
        assert bad not in text and PROVIDER_SECRET not in text
    assert event.changes == {"ok": False, "error": body["last_error"]}


def test_a_disabled_integration_stays_disabled(personas, provider):
    integration = _make(
        personas, "github", {"base_url": provider.url("")}, {"token": GOOD}, status="disabled"
    )
    body = _verify(personas, integration).json()
    assert body["status"] == "disabled" and body["last_verified_at"] is not None


def test_a_base_url_that_resolves_to_a_private_address_is_never_asked(
    personas, monkeypatch, connections_made
):
    stub_dns(monkeypatch, {"ai.example.com": ["10.0.0.7"]})
    integration = _make(
        personas, "openai_compatible", {"base_url": "https://ai.example.com/v1"}, {"api_key": GOOD}
    )

    body = _verify(personas, integration).json()

    assert body["status"] == "error"
    assert body["last_error"].startswith("The OpenAI-compatible AI URL is not allowed")
    assert connections_made == []


@pytest.mark.parametrize(
    "provider_name, config, credentials",
    [
        ("webhook", {}, {}),
        ("github", {}, {}),  # no token stored
        ("http_json", {}, {"token": GOOD}),  # no source URL
    ],
)
def test_nothing_to_verify_is_a_clear_400_and_changes_nothing(
    personas, connections_made, provider_name, config, credentials
):
    integration = _make(personas, provider_name, config, credentials)
    response = _verify(personas, integration)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "verify_not_supported"
    with service_context(reason="test"):
        integration.refresh_from_db()
    assert (integration.status, integration.last_verified_at) == ("active", None)
    assert connections_made == []


@pytest.mark.parametrize("persona", ["member", "viewer", "billing", "outsider"])
def test_only_admins_and_owners_verify(personas, provider, persona):
    integration = _make(personas, "github", {"base_url": provider.url("")}, {"token": GOOD})
    response = _verify(personas, integration, persona)
    assert response.status_code == (404 if persona == "outsider" else 403)
    assert provider.requests == []
