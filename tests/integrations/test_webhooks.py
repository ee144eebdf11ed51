"""Outbound webhooks: create (secret once), fan-out after commit, Standard Webhooks
signatures verified by the independent ``standardwebhooks`` package, retries on
schedule, 410, 5 days of failures, replay, test event, SSRF refusal (acceptance 2).

Receivers run on 127.0.0.1 with ``OUTBOUND_ALLOWED_NETWORKS`` set for the test.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from audit.models import AuditEvent
from integrations import outbound, webhooks
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from organizations.tenancy import service_context
from tests.integrations.support import receiver, stub_dns

pytestmark = pytest.mark.django_db

URL = "/api/v1/orgs/acme/webhooks/"


@pytest.fixture
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]


def _create_endpoint(personas, url, event_types=("project.created",)):
    response = personas.client("admin").post(
        URL, {"url": url, "event_types": list(event_types)}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def _create_project(personas, django_capture_on_commit_callbacks, name="Hooked"):
    with django_capture_on_commit_callbacks(execute=True):
        response = personas.client("member").post(
            "/api/v1/orgs/acme/projects/", {"name": name}, format="json"
        )
    assert response.status_code == 201
    return response.json()


def _deliveries():
    with service_context(reason="test"):
        return list(WebhookDelivery.objects.select_related("message").order_by("created_at"))


def _deliver(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return webhooks.deliver_due()


def test_create_returns_the_secret_once(personas, loopback_allowed):
    body = _create_endpoint(personas, "http://127.0.0.1:9/hook")
    assert body["secret"].startswith("whsec_")
    listed = personas.client("admin").get(URL).json()
    detail = personas.client("admin").get(f"{URL}{body['id']}/").json()
    assert body["secret"] not in str(listed) + str(detail)
    assert "secret" not in detail


def test_a_delivery_verifies_with_standardwebhooks(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    with receiver(200) as hook:
        endpoint = _create_endpoint(personas, hook.url())
        project = _create_project(personas, django_capture_on_commit_callbacks)
        assert _deliver(django_capture_on_commit_callbacks) == 1

    assert len(hook.requests) == 1
    got = hook.requests[0]
    payload = Webhook(endpoint["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "project.created"
    assert payload["data"]["target"]["id"] == project["id"]
    assert got.headers["webhook-id"].startswith("msg_")
    [delivery] = _deliveries()
    assert delivery.status == "succeeded" and delivery.attempt_count == 1


def test_a_signature_with_another_secret_does_not_verify(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    from standardwebhooks.webhooks import WebhookVerificationError

    with receiver(200) as hook:
        _create_endpoint(personas, hook.url())
        _create_project(personas, django_capture_on_commit_callbacks)
        _deliver(django_capture_on_commit_callbacks)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.generate_secret()).verify(hook.requests[0].body, hook.requests[0].headers)


def test_events_the_endpoint_did_not_subscribe_to_are_not_sent(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    _create_endpoint(personas, "http://127.0.0.1:9/hook", event_types=["member.removed"])
    _create_project(personas, django_capture_on_commit_callbacks)
    assert _deliveries() == []


def test_a_rolled_back_change_sends_nothing(personas, loopback_allowed):
    """No on-commit callback runs for a transaction that did not commit."""
    _create_endpoint(personas, "http://127.0.0.1:9/hook", event_types=["*"])
    personas.client("member").post("/api/v1/orgs/acme/projects/", {"name": "X"}, format="json")
    assert _deliveries() == []  # the test transaction never committed


def test_rotation_signs_with_both_secrets_for_a_day(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    with receiver(200) as hook:
        endpoint = _create_endpoint(personas, hook.url())
        rotated = personas.client("admin").post(f"{URL}{endpoint['id']}/rotate-secret/")
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        _create_project(personas, django_capture_on_commit_callbacks, name="One")
        _deliver(django_capture_on_commit_callbacks)
        with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False):
            _create_project(personas, django_capture_on_commit_callbacks, name="Two")
            _deliver(django_capture_on_commit_callbacks)
            late = hook.requests[1]
            Webhook(new_secret).verify(late.body, late.headers)
            with pytest.raises(Exception):  # noqa: B017 - the old secret no longer signs
                Webhook(endpoint["secret"]).verify(late.body, late.headers)
    early = hook.requests[0]
    with time_machine.travel(timezone.now(), tick=False):
        Webhook(endpoint["secret"]).verify(early.body, early.headers)
        Webhook(new_secret).verify(early.body, early.headers)
    assert len(early.headers["webhook-signature"].split(" ")) == 2


def test_a_failing_receiver_is_retried_on_schedule_with_the_same_message_id(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    expected = [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ]
    start = timezone.now()
    with receiver(500) as hook, time_machine.travel(start, tick=False) as clock:
        _create_endpoint(personas, hook.url())
        _create_project(personas, django_capture_on_commit_callbacks)
        assert _deliver(django_capture_on_commit_callbacks) == 1  # immediately
        for delay in expected:
            [delivery] = _deliveries()
            wait = delivery.next_attempt_at - timezone.now()
            assert delay <= wait <= delay * 1.1, (delay, wait)
            clock.shift(wait - timedelta(milliseconds=10))
            assert _deliver(django_capture_on_commit_callbacks) == 0  # not due yet
            clock.shift(timedelta(milliseconds=20))
            assert _deliver(django_capture_on_commit_callbacks) == 1
    [delivery] = _deliveries()
    assert delivery.status == "failed" and delivery.attempt_count == 8
    assert delivery.next_attempt_at is None
    assert len({r.headers["webhook-id"] for r in hook.requests}) == 1
    assert len(hook.requests) == 8
    with service_context(reason="test"):
        assert WebhookAttempt.objects.filter(delivery=delivery).count() == 8


def test_redirects_are_not_followed(personas, loopback_allowed, django_capture_on_commit_callbacks):
    with receiver(lambda r: (302, b"", {"location": "http://127.0.0.1:9/elsewhere"})) as hook:
        _create_endpoint(personas, hook.url())
        _create_project(personas, django_capture_on_commit_callbacks)
        _deliver(django_capture_on_commit_callbacks)
    assert len(hook.requests) == 1
    [delivery] = _deliveries()
    assert delivery.status == "pending" and delivery.last_status_code == 302


def test_410_disables_the_endpoint(personas, loopback_allowed, django_capture_on_commit_callbacks):
    with receiver(410) as hook:
        endpoint = _create_endpoint(personas, hook.url())
        _create_project(personas, django_capture_on_commit_callbacks)
        _deliver(django_capture_on_commit_callbacks)
    with service_context(reason="test"):
        assert WebhookEndpoint.objects.get(id=endpoint["id"]).status == "disabled"
    [delivery] = _deliveries()
    assert delivery.status == "failed"


def test_five_days_of_failures_disable_the_endpoint_and_tell_the_admins(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with receiver(503) as hook, time_machine.travel(start, tick=False) as clock:
        endpoint = _create_endpoint(personas, hook.url(), event_types=["*"])
        for day in range(6):
            _create_project(personas, django_capture_on_commit_callbacks, name=f"Day {day}")
            _deliver(django_capture_on_commit_callbacks)
            clock.shift(timedelta(days=1))
    with service_context(reason="test"):
        disabled = WebhookEndpoint.objects.get(id=endpoint["id"])
        event = AuditEvent.objects.get(organization=personas.org, action="webhook.disabled")
    assert disabled.status == "disabled"
    assert "5 days" in disabled.disabled_reason
    assert event.target_id == endpoint["id"]
    [message] = [m for m in mail.outbox if "webhook" in m.subject.lower()]
    assert set(message.to) == {"owner@acme.test", "admin@acme.test"}


def test_replay_sends_the_same_message_again(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    with receiver(200) as hook:
        endpoint = _create_endpoint(personas, hook.url())
        _create_project(personas, django_capture_on_commit_callbacks)
        _deliver(django_capture_on_commit_callbacks)
        [delivery] = _deliveries()
        with django_capture_on_commit_callbacks(execute=True):
            replay = personas.client("admin").post(
                f"{URL}{endpoint['id']}/deliveries/{delivery.id}/replay/"
            )
        assert replay.status_code == 202, replay.content
        _deliver(django_capture_on_commit_callbacks)
    assert len(hook.requests) == 2
    assert hook.requests[0].headers["webhook-id"] == hook.requests[1].headers["webhook-id"]
    log = personas.client("admin").get(f"{URL}{endpoint['id']}/deliveries/").json()
    assert [d["status"] for d in log["results"]] == ["succeeded", "succeeded"]


def test_a_test_event_is_delivered(personas, loopback_allowed, django_capture_on_commit_callbacks):
    with receiver(200) as hook:
        endpoint = _create_endpoint(personas, hook.url())
        response = personas.client("admin").post(f"{URL}{endpoint['id']}/test/")
        assert response.status_code == 202
        _deliver(django_capture_on_commit_callbacks)
    payload = Webhook(endpoint["secret"]).verify(hook.requests[0].body, hook.requests[0].headers)
    assert payload["type"] == "webhook.test"


def test_the_delivery_log_keeps_a_snippet_of_at_most_1_kb(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    with receiver(lambda r: (500, b"x" * 5000, {})) as hook:
        endpoint = _create_endpoint(personas, hook.url())
        _create_project(personas, django_capture_on_commit_callbacks)
        _deliver(django_capture_on_commit_callbacks)
    [delivery] = _deliveries()
    detail = personas.client("admin").get(f"{URL}{endpoint['id']}/deliveries/{delivery.id}/")
    body = detail.json()
    assert detail.status_code == 200
    assert len(body["last_response"]) == 1024
    assert body["attempts"][0]["status_code"] == 500
    assert len(body["attempts"][0]["response_snippet"].encode()) <= 1024
    assert hook.requests


def test_the_delivery_log_costs_the_same_queries_for_1_and_5_rows(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    endpoint = _create_endpoint(personas, "http://127.0.0.1:9/hook", event_types=["*"])
    url = f"{URL}{endpoint['id']}/deliveries/"
    client = personas.client("admin")
    _create_project(personas, django_capture_on_commit_callbacks, name="P0")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(url).json()["results"]) == 1
    for i in range(1, 5):
        _create_project(personas, django_capture_on_commit_callbacks, name=f"P{i}")
    with CaptureQueriesContext(connection) as five:
        assert len(client.get(url).json()["results"]) == 5
    assert len(five) == len(one)


# --- SSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_a_url_resolving_to_a_private_address_is_refused_without_a_connection(
    personas, monkeypatch, connections_made, address
):
    stub_dns(monkeypatch, {"hooks.example.com": [address]})
    response = personas.client("admin").post(
        URL, {"url": "https://hooks.example.com/x", "event_types": ["*"]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert "private or reserved" in response.json()["error"]["message"]
    assert connections_made == []


def test_one_private_answer_among_public_ones_is_enough_to_refuse(
    personas, monkeypatch, connections_made
):
    stub_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34", "10.0.0.1"]})
    response = personas.client("admin").post(
        URL, {"url": "https://hooks.example.com/x", "event_types": ["*"]}, format="json"
    )
    assert response.status_code == 400
    assert connections_made == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "http://user:pass@hooks.example.com/x",
        "file:///etc/passwd",
        "http://127.0.0.1:8000/",
        "http://[::1]/",
    ],
)
def test_bad_schemes_credentials_and_literal_loopback_are_refused(
    personas, monkeypatch, connections_made, url
):
    stub_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    response = personas.client("admin").post(URL, {"url": url, "event_types": ["*"]}, format="json")
    assert response.status_code == 400, response.content
    assert connections_made == []


def test_dns_rebinding_at_send_time_is_refused_without_a_connection(
    personas, monkeypatch, connections_made, settings, django_capture_on_commit_callbacks
):
    """The URL passed at save; when sending, the name now answers a private address."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    stub_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    endpoint = _create_endpoint(personas, "http://hooks.example.com:9/x")
    stub_dns(monkeypatch, {"hooks.example.com": ["10.1.2.3"]})
    _create_project(personas, django_capture_on_commit_callbacks)
    _deliver(django_capture_on_commit_callbacks)
    [delivery] = _deliveries()
    assert delivery.status == "pending" and "private" in delivery.last_error
    assert connections_made == []
    assert endpoint


def test_the_vetted_address_is_the_one_connected_to_with_the_original_host(
    personas, monkeypatch, connections_made, loopback_allowed, django_capture_on_commit_callbacks
):
    with receiver(200) as hook:
        stub_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
        _create_endpoint(personas, hook.url(host="hooks.example.com"))
        _create_project(personas, django_capture_on_commit_callbacks)
        _deliver(django_capture_on_commit_callbacks)
    assert hook.requests[0].headers["host"] == f"hooks.example.com:{hook.port}"
    assert {address[0] for address in connections_made} == {"127.0.0.1"}


def test_without_the_allow_list_loopback_is_refused(personas, connections_made):
    response = personas.client("admin").post(
        URL, {"url": "http://127.0.0.1:9/x", "event_types": ["*"]}, format="json"
    )
    assert response.status_code == 400
    assert connections_made == []


def test_event_types_are_validated(personas, loopback_allowed):
    for bad in (["*", "project.created"], ["Project Created"], []):
        response = personas.client("admin").post(
            URL, {"url": "http://127.0.0.1:9/x", "event_types": bad}, format="json"
        )
        assert response.status_code == 400, bad


def test_payload_is_the_audit_event(personas, loopback_allowed, django_capture_on_commit_callbacks):
    _create_endpoint(personas, "http://127.0.0.1:9/hook")
    _create_project(personas, django_capture_on_commit_callbacks)
    [delivery] = _deliveries()
    payload = delivery.message.payload
    assert json.loads(json.dumps(payload))["data"]["actor"]["label"] == "member@acme.test"


def test_with_outbound_off_a_url_is_saved_unresolved_and_nothing_is_ever_sent(
    personas, monkeypatch, connections_made, settings, django_capture_on_commit_callbacks
):
    """OUTBOUND_ENABLED=false (air-gapped installs, the system tests' live servers): no
    DNS query for the host at save, and every send refused before any connection."""
    settings.OUTBOUND_ENABLED = False
    asked: list[str] = []
    monkeypatch.setattr(outbound, "resolver", lambda host, port: asked.append(host) or [])
    with receiver(200) as hook:
        settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # would be reachable if on
        _create_endpoint(personas, "https://hooks.example.com/x")
        _create_endpoint(personas, hook.url())
        _create_project(personas, django_capture_on_commit_callbacks)
        _deliver(django_capture_on_commit_callbacks)
        assert hook.requests == []
    assert asked == [] and connections_made == []
    deliveries = _deliveries()
    assert len(deliveries) == 2
    assert all("turned off" in delivery.last_error for delivery in deliveries)


def test_with_outbound_off_a_literal_private_address_is_still_refused(personas, settings):
    settings.OUTBOUND_ENABLED = False
    response = personas.client("admin").post(
        URL, {"url": "http://10.0.0.1/x", "event_types": ["*"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_not_allowed"
