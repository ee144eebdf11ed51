"""Outbound webhooks: fan-out of audit events, Standard Webhooks signing, delivery.

**Fan-out.** Every audit event of an organization (``audit_record``) schedules, on
commit, one call to ``app.webhook_fan_out(event id)``: a message and one delivery
per enabled endpoint subscribed to the action (or to ``*``), built in SQL from the
committed audit row (a rolled-back change sends nothing). Then the delivery task
is enqueued if anything was created.

**Signing** (https://www.standardwebhooks.com): headers ``webhook-id`` (the message
id, the same on every retry and replay), ``webhook-timestamp`` (unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed
with the base64-decoded part of the endpoint's ``whsec_`` secret. For 24 hours after
a rotation the header carries a signature with the previous secret too.

**Delivery.** :func:`deliver_due` claims one due delivery at a time with
``FOR UPDATE SKIP LOCKED`` (so workers never send the same attempt twice) in the
service context and sends it through :mod:`integrations.outbound` (SSRF guard, no
redirects, 15 s). A 2xx is success. Otherwise the next attempt follows
:data:`RETRY_DELAYS` (with up to 10% jitter) until they run out; a 410 disables the
endpoint at once; an endpoint failing for ``WEBHOOK_DISABLE_AFTER`` (5 days) is
disabled and the organization's owners and admins are told (audit event and email).
Every attempt is kept (``WebhookAttempt``, append-only) with a response snippet of at
most 1 KB.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import ssl
import time
import uuid
from datetime import datetime, timedelta
from http import HTTPStatus

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from integrations import crypto, outbound
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
# Delay before attempt n+1 after attempt n failed: immediately, 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h.
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1
SNIPPET_BYTES = 1024
SUCCESS_TIMEOUT_SECONDS = 15.0


# --- secrets and signatures ---------------------------------------------------------


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one during the rotation overlap."""
    keys = [crypto.decrypt(endpoint.secret_encrypted)]
    if (
        endpoint.previous_secret_encrypted
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        keys.append(crypto.decrypt(endpoint.previous_secret_encrypted))
    return keys


def signed_headers(
    endpoint: WebhookEndpoint, message: WebhookMessage, body: bytes, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    signatures = " ".join(
        sign(secret, message.webhook_id, timestamp, body)
        for secret in signing_secrets(endpoint, now)
    )
    return {
        "content-type": "application/json",
        "user-agent": "saas-webhooks/1",
        "webhook-id": message.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def message_body(message: WebhookMessage) -> bytes:
    return json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode()


# --- fan-out ----------------------------------------------------------------------


def fan_out(audit_event_id: uuid.UUID, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Create the deliveries of one committed audit event; enqueue the worker if any."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT app.webhook_fan_out(%s::uuid)", [str(audit_event_id)])
        created = cursor.fetchone()[0]
    if created:
        enqueue_delivery()
    return created


def enqueue_delivery(run_after: datetime | None = None) -> None:
    from integrations.tasks import deliver_webhooks

    task = deliver_webhooks.using(run_after=run_after) if run_after else deliver_webhooks
    try:
        task.enqueue()
    except Exception:
        logger.exception("could not enqueue webhook delivery")


# --- delivery ---------------------------------------------------------------------


def due_count() -> int:
    """Deliveries due now, across tenants (no elevation needed: only a number)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT app.webhook_due_count(%s)", [timezone.now()])
        return cursor.fetchone()[0]


def next_delay(attempts_made: int) -> timedelta | None:
    """The delay before the next attempt after ``attempts_made`` failed ones, or None."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[attempts_made - 1]
    return delay + delay * random.uniform(0, JITTER)  # noqa: S311 - jitter, not a secret


def deliver_due(*, limit: int = 100) -> int:
    """Send up to ``limit`` due deliveries, one claimed row at a time; the number sent."""
    from organizations.tenancy import service_context

    sent = 0
    while sent < limit and due_count():
        with service_context(reason="deliver due webhooks"):
            delivery = (
                WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("endpoint", "message")
                .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
                .order_by("next_attempt_at")
                .first()
            )
            if delivery is None:
                break  # the rest are locked by another worker
            attempt(delivery)
        sent += 1
    return sent


def attempt(delivery: WebhookDelivery) -> WebhookAttempt:
    """One HTTP attempt of a locked delivery, and its consequences. Runs in the service
    context, inside the transaction holding the delivery's row lock."""
    endpoint, message = delivery.endpoint, delivery.message
    now = timezone.now()
    number = delivery.attempt_count + 1
    status_code: int | None = None
    snippet = error = ""
    elapsed = 0
    if endpoint.status != WebhookEndpoint.Status.ENABLED:
        error = "The endpoint is disabled."
    else:
        body = message_body(message)
        started = time.monotonic()
        try:
            response = outbound.request(
                "POST",
                endpoint.url,
                headers=signed_headers(endpoint, message, body, now),
                content=body,
                timeout=SUCCESS_TIMEOUT_SECONDS,
                max_bytes=SNIPPET_BYTES,
            )
            status_code, elapsed = response.status_code, response.elapsed_ms
            snippet = _snippet(response.content)
            if not 200 <= status_code < 300:
                error = _http_status_words(status_code)
        except outbound.OutboundRefused as exc:
            error = exc.message
        except outbound.OutboundError as exc:
            error = failure_words(exc)
        except Exception:  # a bug or an unreadable secret must not wedge the queue
            logger.exception("webhook delivery %s failed unexpectedly", delivery.id)
            error = "Internal error while sending."
        if status_code is None:
            # The time the attempt really took: a refused connection, a timeout.
            elapsed = int((time.monotonic() - started) * 1000)
    record = WebhookAttempt.objects.create(
        organization_id=delivery.organization_id,
        delivery_id=delivery.id,
        number=number,
        status_code=status_code,
        response_snippet=snippet,
        error=error[:500],
        duration_ms=elapsed,
    )
    delivery.attempt_count = number
    delivery.last_status_code = status_code
    delivery.last_response = snippet
    delivery.last_error = error[:500]
    succeeded = status_code is not None and 200 <= status_code < 300
    if succeeded:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        if endpoint.failing_since:
            WebhookEndpoint.objects.filter(id=endpoint.id).update(failing_since=None)
    else:
        _failed(delivery, endpoint, status_code, now)
    delivery.save()
    return record


def _http_status_words(status_code: int) -> str:
    try:
        return f"HTTP {status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return f"HTTP {status_code}"


def failure_words(exc: outbound.OutboundError) -> str:
    """What went wrong with an attempt that got no HTTP answer, in words a person
    reads in the delivery log: "connection refused", "timed out after 15 s", "TLS
    handshake failed", ... (from the httpx error and the OS error under it)."""
    cause = exc.__cause__
    if isinstance(cause, httpx.TimeoutException):
        stage = "connecting" if isinstance(cause, httpx.ConnectTimeout) else "waiting for an answer"
        return f"timed out after {SUCCESS_TIMEOUT_SECONDS:g} s ({stage})"
    chain: list[BaseException] = []
    link: BaseException | None = cause
    while link is not None and len(chain) < 10:
        chain.append(link)
        link = link.__cause__ or link.__context__
    text = " ".join(str(link) for link in chain).lower()
    if any(isinstance(link, ssl.SSLCertVerificationError) for link in chain):
        return "TLS certificate not accepted (verification failed)"
    if any(isinstance(link, ssl.SSLError) for link in chain) or "ssl" in text:
        return "TLS handshake failed"
    if any(isinstance(link, ConnectionRefusedError) for link in chain) or "refused" in text:
        return "connection refused"
    if any(isinstance(link, ConnectionResetError) for link in chain) or "reset" in text:
        return "connection reset by the receiver"
    if isinstance(cause, httpx.RemoteProtocolError):
        return "the receiver closed the connection without a valid HTTP answer"
    if isinstance(cause, httpx.ConnectError):
        return "could not connect"
    if isinstance(cause, httpx.HTTPError):
        return f"the request failed ({type(cause).__name__})"
    return str(exc)


def _snippet(content: bytes) -> str:
    text = content[:SNIPPET_BYTES].decode("utf-8", errors="replace")
    while len(text.encode()) > SNIPPET_BYTES:
        text = text[:-1]
    return text


def _failed(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, status_code: int | None, now: datetime
) -> None:
    delay = next_delay(delivery.attempt_count)
    if status_code == 410:
        _disable(endpoint, "The receiver answered 410 Gone.", now)
        delay = None
    elif endpoint.status == WebhookEndpoint.Status.ENABLED:
        failing_since = endpoint.failing_since or now
        if not endpoint.failing_since:
            WebhookEndpoint.objects.filter(id=endpoint.id).update(failing_since=now)
        if now - failing_since >= settings.WEBHOOK_DISABLE_AFTER:
            _disable(endpoint, "Deliveries failed for 5 days.", now, notify=True)
            delay = None
    else:
        delay = None
    if delay is None:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + delay
        run_after = delivery.next_attempt_at
        transaction.on_commit(lambda: enqueue_delivery(run_after), robust=True)


def _disable(
    endpoint: WebhookEndpoint, reason: str, now: datetime, *, notify: bool = False
) -> None:
    from audit.services import audit_record
    from organizations.models import Membership, Organization

    WebhookEndpoint.objects.filter(id=endpoint.id).update(
        status=WebhookEndpoint.Status.DISABLED, disabled_reason=reason, updated_at=now
    )
    endpoint.status = WebhookEndpoint.Status.DISABLED
    audit_record(
        action="webhook.disabled",
        organization_id=endpoint.organization_id,
        target=endpoint,
        changes={"url": endpoint.url, "reason": reason},
    )
    if notify:
        emails = list(
            Membership.objects.filter(
                organization_id=endpoint.organization_id, role__in=["owner", "admin"]
            ).values_list("user__email", flat=True)
        )
        org = Organization.objects.get(id=endpoint.organization_id)
        subject = f"[{org.name}] A webhook endpoint was disabled"
        # The receiver is named without its scheme: a link in an email is a link to this
        # server (tests follow every one), and the receiver is not ours to link to.
        receiver = httpx.URL(endpoint.url)
        text = (
            f"The webhook endpoint {receiver.host}{receiver.path} ({endpoint.id}) of {org.name}"
            f" was disabled: {reason}\n"
            "Fix the receiver, then enable the endpoint again and replay the failed deliveries."
        )
        transaction.on_commit(
            lambda: send_mail(subject, text, None, emails, fail_silently=True), robust=True
        )
