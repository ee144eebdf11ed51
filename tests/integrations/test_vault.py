"""The credentials vault (acceptance 4): integrations with write-only secrets, a user's
own keys invisible to everyone else (API and raw SQL), ``PlatformSecret`` unreadable by
the app role, key rotation keeping every credential readable."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from integrations import crypto
from integrations.management.commands.rotate_integration_keys import rotate_all
from integrations.models import Integration, PlatformSecret, UserIntegration, WebhookEndpoint
from integrations.services import platform_secret_get
from organizations.tenancy import enter_org, service_context
from tests.integrations.makers import webhook

pytestmark = pytest.mark.django_db

SECRET = "sk-live-0123456789abcdefA1B2"


def _integration(personas, **extra):
    body = {
        "provider": "openai_compatible",
        "name": "OpenAI",
        "config": {"model": "gpt-test"},
        "credentials": {"api_key": SECRET},
        **extra,
    }
    response = personas.client("admin").post("/api/v1/orgs/acme/integrations/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_credentials_are_write_only_and_shown_as_a_hint(personas):
    created = _integration(personas)
    assert created["credentials_hint"] == "sk-…A1B2"
    assert SECRET not in str(created)
    listed = personas.client("member").get("/api/v1/orgs/acme/integrations/")
    assert listed.status_code == 200 and SECRET not in listed.content.decode()
    with service_context(reason="test"):
        row = Integration.objects.get(id=created["id"])
        events = list(AuditEvent.objects.filter(organization=personas.org).values("changes"))
    assert SECRET not in row.credentials_encrypted
    assert crypto.decrypt_json(row.credentials_encrypted) == {"api_key": SECRET}
    assert SECRET not in str(events)


def test_viewers_and_billing_see_no_integrations(personas):
    _integration(personas)
    for persona in ("viewer", "billing"):
        assert personas.client(persona).get("/api/v1/orgs/acme/integrations/").status_code == 403
    assert (
        personas.client("member")
        .post("/api/v1/orgs/acme/integrations/", {"provider": "github", "name": "x"}, format="json")
        .status_code
        == 403
    )


def test_an_ai_base_url_pointing_inside_is_refused(personas, connections_made):
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/integrations/",
        {
            "provider": "openai_compatible",
            "name": "x",
            "config": {"base_url": "http://10.0.0.8/v1"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert connections_made == []


def _own_key(personas, persona, secret):
    response = personas.client(persona).put(
        "/api/v1/orgs/acme/user-integrations/my-ai/",
        {"provider": "openai_compatible", "credentials": {"api_key": secret}},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def test_a_users_own_key_is_invisible_to_the_owner_through_the_api(personas):
    mine = _own_key(personas, "member", "sk-members-own-key-9999")
    owner = personas.client("owner")
    assert owner.get("/api/v1/orgs/acme/user-integrations/").json()["results"] == []
    assert owner.get("/api/v1/orgs/acme/user-integrations/my-ai/").status_code == 404
    me = personas.client("member").get("/api/v1/orgs/acme/user-integrations/").json()["results"]
    assert [r["id"] for r in me] == [mine["id"]]
    assert me[0]["credentials_hint"] == "sk-…9999"


def test_a_users_own_key_is_invisible_to_the_owner_in_raw_sql(personas):
    _own_key(personas, "member", "sk-members-own-key-9999")
    with transaction.atomic(), connection.cursor() as cursor:
        assert enter_org(personas.users["owner"].id, "acme").role == "owner"
        cursor.execute("SELECT count(*) FROM integrations_userintegration")
        assert cursor.fetchone()[0] == 0
        cursor.execute("UPDATE integrations_userintegration SET name = 'pwned'")
        assert cursor.rowcount == 0
        cursor.execute("DELETE FROM integrations_userintegration")
        assert cursor.rowcount == 0
        transaction.set_rollback(True)
    with transaction.atomic(), connection.cursor() as cursor:
        enter_org(personas.users["member"].id, "acme")
        cursor.execute("SELECT count(*) FROM integrations_userintegration")
        assert cursor.fetchone()[0] == 1
        transaction.set_rollback(True)


def test_platform_secrets_are_unreadable_by_the_app_role(personas):
    with service_context(reason="test"):
        from integrations.services import platform_secret_set

        platform_secret_set(name="stripe-webhook", value="whsec_platform")
        assert platform_secret_get("stripe-webhook") == "whsec_platform"
    for statement in (
        "SELECT count(*) FROM integrations_platformsecret",
        "INSERT INTO integrations_platformsecret (id, name, value_encrypted, created_at,"
        " updated_at) VALUES (gen_random_uuid(), 'x', 'y', now(), now())",
        "DELETE FROM integrations_platformsecret",
    ):
        with (
            pytest.raises(DatabaseError, match="permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        enter_org(personas.users["owner"].id, "acme")
        cursor.execute("SELECT value_encrypted FROM integrations_platformsecret")


def test_secret_set_reads_the_value_from_stdin(personas):
    out = io.StringIO()
    call_command("secret_set", "smtp-password", stdin=io.StringIO("hunter22\n"), stdout=out)
    with service_context(reason="test"):
        assert platform_secret_get("smtp-password") == "hunter22"
        stored = PlatformSecret.objects.get(name="smtp-password").value_encrypted
    assert "hunter22" not in stored and "hunter22" not in out.getvalue()


def test_rotation_keeps_every_credential_readable(personas, settings):
    old_key = settings.INTEGRATIONS_ENCRYPTION_KEYS[0]
    created = _integration(personas)
    _own_key(personas, "member", "sk-members-own-key-9999")
    hook = webhook(personas)
    with service_context(reason="test"):
        from integrations.services import platform_secret_set

        platform_secret_set(name="p", value="platform-value")
        before = Integration.objects.get(id=created["id"]).credentials_encrypted

    new_key = Fernet.generate_key().decode()
    settings.INTEGRATIONS_ENCRYPTION_KEYS = [new_key, old_key]
    assert rotate_all(batch_size=1) >= 3
    assert rotate_all(batch_size=1) >= 3  # idempotent: running again is harmless

    settings.INTEGRATIONS_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    with service_context(reason="test"):
        row = Integration.objects.get(id=created["id"])
        own = UserIntegration.objects.get(name="my-ai")
        assert row.credentials_encrypted != before
        assert crypto.decrypt_json(row.credentials_encrypted) == {"api_key": SECRET}
        assert crypto.decrypt_json(own.credentials_encrypted) == {
            "api_key": "sk-members-own-key-9999"
        }
        assert platform_secret_get("p") == "platform-value"
        assert crypto.decrypt(WebhookEndpoint.objects.get(id=hook.id).secret_encrypted).startswith(
            "whsec_"
        )


def test_without_rotation_a_removed_key_makes_credentials_unreadable(personas, settings):
    """The rotation test above can fail: the old key really is needed until rotation."""
    created = _integration(personas)
    settings.INTEGRATIONS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with service_context(reason="test"), pytest.raises(crypto.InvalidToken):
        crypto.decrypt_json(Integration.objects.get(id=created["id"]).credentials_encrypted)


def test_rotate_command_runs_quietly_off_a_terminal(personas):
    _integration(personas)
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_integration_keys", stdout=out, stderr=err)
    assert "Re-encrypted" in out.getvalue()
    assert "re-encrypting" not in err.getvalue()


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_rls_check_reports_a_grant_on_a_service_only_table():
    from django.conf import settings as django_settings
    from django.db import connections

    from organizations.rls.checks import run_checks

    owner = connections["owner"]
    app_role = django_settings.DB_APP_ROLE
    assert "integrations_platformsecret" not in {p.obj for p in run_checks()}
    with owner.cursor() as cursor:
        cursor.execute(f'GRANT SELECT ON integrations_platformsecret TO "{app_role}"')
    try:
        codes = {(p.code, p.obj) for p in run_checks()}
        assert ("service_only_granted", "integrations_platformsecret") in codes
    finally:
        with owner.cursor() as cursor:
            cursor.execute(f'REVOKE ALL ON integrations_platformsecret FROM "{app_role}"')
