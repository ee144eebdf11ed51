"""Billing micro-bench (issue 13), in-process against the development database.

``python bench/billing_quota.py [--rounds R] [--per-round N] [--events E]``:

* W3 (project create through the API, Django test client, one member's JWT) with
  and without the quota check, interleaved round by round in the same process so
  both see the same machine load; reports the median latency of each and the ratio
  (target <= 1.10). "Without" replaces the service module's ``quota_check_count``
  with a no-op for that round. The organization has a 10^9-project override, so the
  check does its full work (lock, count) and always passes.
* Webhook throughput: E signed ``customer.subscription.updated`` events (distinct ids,
  increasing ``created``) posted to the webhook view; events/s including signature
  verification, the inbox insert and the subscription update.

Created projects are deleted at the end. Short runs only: the CPU is shared.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Session, User  # noqa: E402
from accounts.services import user_create  # noqa: E402
from accounts.tokens import token_pair  # noqa: E402
from billing.models import QuotaOverride  # noqa: E402
from organizations.models import Organization  # noqa: E402
from organizations.services import organization_create  # noqa: E402
from organizations.tenancy import service_context  # noqa: E402
from projects.models import Project  # noqa: E402
from projects.services import projects as project_services  # noqa: E402

SLUG = "bench-billing"
SECRET = "whsec_bench"  # noqa: S105 - bench only


def _setup() -> tuple[Client, Organization]:
    with service_context(reason="bench billing: setup"):
        user = User.objects.filter(email="bench-billing@example.test").first() or user_create(
            email="bench-billing@example.test",
            password="bench-password-123456",  # noqa: S106
        )
        org = Organization.objects.filter(slug=SLUG).first() or organization_create(
            actor=user, name="Bench billing", slug=SLUG
        )
        QuotaOverride.objects.update_or_create(
            organization_id=org.id,
            metric="projects",
            defaults={
                "limit": 10**9,
                "reason": "bench",
                "expires_at": timezone.now() + timedelta(days=1),
            },
        )
        session = Session.objects.create(user=user, expires_at=timezone.now() + timedelta(hours=1))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_pair(session)['access']}")
    return client, org


def _create_round(client: Client, n: int, tag: str) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        response = client.post(
            f"/api/v1/orgs/{SLUG}/projects/",
            {"name": f"b {tag} {i} {time.monotonic_ns()}"},
            content_type="application/json",
        )
        out.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content
    return out


def bench_w3(rounds: int, per_round: int) -> dict[str, float]:
    client, org = _setup()
    real = project_services.quota_check_count
    with_q: list[float] = []
    without_q: list[float] = []
    _create_round(client, 5, "warm")
    for r in range(rounds):
        for enforce in (True, False) if r % 2 == 0 else (False, True):
            project_services.quota_check_count = real if enforce else (lambda **kw: None)
            (with_q if enforce else without_q).extend(_create_round(client, per_round, str(r)))
    project_services.quota_check_count = real
    with service_context(reason="bench billing: cleanup"):
        Project.objects.filter(organization_id=org.id).delete()
    a, b = statistics.median(with_q), statistics.median(without_q)
    return {
        "w3_with_quota_ms": round(a * 1000, 2),
        "w3_without_quota_ms": round(b * 1000, 2),
        "w3_ratio": round(a / b, 3),
        "w3_requests_each": len(with_q),
    }


def bench_webhooks(events: int) -> dict[str, float]:
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    _, org = _setup()
    client = Client()
    base = int(time.time()) - events
    bodies = []
    for i in range(events):
        body = json.dumps(
            {
                "id": f"evt_bench_{time.monotonic_ns()}_{i}",
                "type": "customer.subscription.updated",
                "created": base + i,
                "data": {
                    "object": {
                        "id": "sub_bench",
                        "customer": "cus_bench",
                        "status": "active" if i % 2 else "trialing",
                        "metadata": {"organization_id": str(org.id), "plan": "pro"},
                        "items": {"data": [{"price": {"id": "price_x"}}]},
                    }
                },
            }
        ).encode()
        t = int(time.time())
        mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        bodies.append((body, f"t={t},v1={mac}"))
    started = time.perf_counter()
    for body, signature in bodies:
        response = client.post(
            "/api/v1/billing/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
        assert response.status_code == 200, response.content
    seconds = time.perf_counter() - started
    return {"webhook_events": events, "webhook_events_per_second": round(events / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    setup_test_environment()
    result = bench_w3(args.rounds, args.per_round) | bench_webhooks(args.events)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
