"""In-process measurement: the project list with an API key vs with a JWT (issue 12,
target: key p50 <= 1.05 x JWT p50), and the cost of the webhook fan-out statement for
an organization without endpoints.

Run against the seeded development database (``manage.py seed`` first)::

    .venv/bin/python bench/apikey_vs_jwt.py [--requests 400] [--json]

Both principals are ``admin@acme.test`` (the key has the ``admin`` role, so both see
the same projects); requests alternate key/JWT through Django's test client in one
process, so both share every condition. The key is created for the run and revoked
after it. ``--json`` prints the figures as one JSON object instead of sentences
(``bench/run.py``'s ``extras`` step reads it).
"""

from __future__ import annotations

import argparse
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

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Session, User  # noqa: E402
from accounts.tokens import token_pair  # noqa: E402
from audit.models import AuditEvent  # noqa: E402
from integrations.services import api_key_create, api_key_revoke  # noqa: E402
from organizations.models import Organization  # noqa: E402
from organizations.tenancy import service_context  # noqa: E402

URL = "/api/v1/orgs/acme/projects/"


def _p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with service_context(reason="bench: api key vs jwt setup"):
        admin = User.objects.get(email="admin@acme.test")
        org = Organization.objects.get(slug="acme")
        api_key, key = api_key_create(
            actor=admin, organization_id=org.id, actor_role="admin", name="bench", role="admin"
        )
        session = Session.objects.create(user=admin, expires_at=timezone.now() + timedelta(hours=1))
    jwt = token_pair(session)["access"]
    clients = {
        "key": Client(HTTP_AUTHORIZATION=f"Bearer {key}"),
        "jwt": Client(HTTP_AUTHORIZATION=f"Bearer {jwt}"),
    }
    timings: dict[str, list[float]] = {"key": [], "jwt": []}
    try:
        for name, client in clients.items():  # warm-up
            for _ in range(20):
                assert client.get(URL).status_code == 200, name
        for _ in range(args.requests):
            for name, client in clients.items():
                started = time.perf_counter()
                response = client.get(URL)
                timings[name].append(time.perf_counter() - started)
                assert response.status_code == 200
    finally:
        with service_context(reason="bench: api key vs jwt teardown"):
            api_key_revoke(actor=admin, api_key=api_key)
            session.delete()

    key_p50, jwt_p50 = _p50_ms(timings["key"]), _p50_ms(timings["jwt"])

    # The fan-out statement each committed write with an audit event runs, for an
    # organization without webhook endpoints (globex has none in the demo).
    with service_context(reason="bench: fan-out event"):
        globex_event = (
            AuditEvent.objects.filter(organization__slug="globex")
            .values_list("id", flat=True)
            .first()
        )
    samples = []
    with connection.cursor() as cursor:
        for _ in range(1000):
            started = time.perf_counter()
            cursor.execute("SELECT app.webhook_fan_out(%s::uuid)", [str(globex_event)])
            cursor.fetchone()
            samples.append(time.perf_counter() - started)
    fan_out_p50 = _p50_ms(samples)
    if args.json:
        figures = {
            "key_p50_ms": round(key_p50, 3),
            "jwt_p50_ms": round(jwt_p50, 3),
            "ratio": round(key_p50 / jwt_p50, 3),
            "requests_each": args.requests,
            "fan_out_p50_ms": round(fan_out_p50, 3),
            "fan_out_statements": len(samples),
        }
        print(json.dumps(figures, indent=2))
        return
    print(
        f"project list p50: API key {key_p50:.3f} ms, JWT {jwt_p50:.3f} ms,"
        f" ratio {key_p50 / jwt_p50:.3f}"
    )
    print(f"webhook fan-out statement, org without endpoints: p50 {fan_out_p50:.3f} ms")


if __name__ == "__main__":
    main()
