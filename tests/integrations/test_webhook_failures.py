"""A failed webhook attempt says what happened in words, with the time it really took;
a replay while the message is still being delivered is refused (issue 22 §3)."""

from __future__ import annotations

import socket
import time

import pytest

from integrations import webhooks
from integrations.models import WebhookAttempt
from organizations.tenancy import service_context
from tests.api.test_conventions import assert_error
from tests.integrations.support import receiver
from tests.integrations.test_webhooks import (
    URL,
    _create_endpoint,
    _create_project,
    _deliver,
    _deliveries,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on leaving: nothing listens there


def _attempts():
    with service_context(reason="test"):
        return list(WebhookAttempt.objects.order_by("created_at"))


def _one_attempt(personas, url, callbacks):
    _create_endpoint(personas, url)
    _create_project(personas, callbacks)
    _deliver(callbacks)
    [delivery] = _deliveries()
    [attempt] = _attempts()
    return delivery, attempt


def test_a_refused_connection_says_so(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    delivery, attempt = _one_attempt(
        personas, f"http://127.0.0.1:{_closed_port()}/hook", django_capture_on_commit_callbacks
    )
    assert attempt.error == delivery.last_error == "connection refused"
    assert attempt.status_code is None


def test_an_error_status_is_named_with_its_phrase(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    with receiver(500) as hook:
        delivery, attempt = _one_attempt(personas, hook.url(), django_capture_on_commit_callbacks)
    assert attempt.error == delivery.last_error == "HTTP 500 Internal Server Error"
    assert attempt.status_code == 500


def test_a_timeout_says_after_how_long_and_records_the_real_duration(
    personas, loopback_allowed, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(webhooks, "SUCCESS_TIMEOUT_SECONDS", 0.3)

    def slow(_received):
        time.sleep(1.5)
        return 200, b"late", {}

    with receiver(slow) as hook:
        _, attempt = _one_attempt(personas, hook.url(), django_capture_on_commit_callbacks)
    assert attempt.error == "timed out after 0.3 s (waiting for an answer)"
    assert attempt.duration_ms >= 300  # the time it took, not 0


def test_a_tls_failure_says_the_handshake_failed(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    with receiver(200) as hook:  # plain HTTP: a TLS client's hello gets no TLS answer
        url = hook.url().replace("http://", "https://")
        _, attempt = _one_attempt(personas, url, django_capture_on_commit_callbacks)
    assert attempt.error == "TLS handshake failed"


def test_a_replay_while_the_message_is_still_retrying_is_a_409(
    personas, loopback_allowed, django_capture_on_commit_callbacks
):
    with receiver(500) as hook:
        endpoint, delivery = _create_endpoint(personas, hook.url()), None
        _create_project(personas, django_capture_on_commit_callbacks)
        _deliver(django_capture_on_commit_callbacks)
        [delivery] = _deliveries()
        assert delivery.status == "pending"  # retrying later
        replay_url = f"{URL}{endpoint['id']}/deliveries/{delivery.id}/replay/"

        refused = personas.client("admin").post(replay_url)

    error = assert_error(refused, 409, "delivery_pending")
    assert error["details"]["pending_delivery"] == str(delivery.id)
    assert len(_deliveries()) == 1  # nothing queued twice
    with service_context(reason="test"):
        delivery.status = "failed"  # the retries ran out
        delivery.next_attempt_at = None
        delivery.save()
    assert personas.client("admin").post(replay_url).status_code == 202
