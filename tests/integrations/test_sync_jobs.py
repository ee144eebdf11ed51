"""Sync jobs end to end (issue 12 acceptance 5): a job with mappings moves records from
a fake HTTP JSON source on 127.0.0.1 with progress the API shows while it runs, ends
``partial`` listing the records that failed, and a second run while one is in flight
is refused with 409. The job runs in the real task worker (``transaction=True`` so
``on_commit`` queues it), acting as the admin who started it."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations import crypto
from integrations.models import Integration, IntegrationJob, IntegrationRecord
from organizations.tenancy import service_context
from tests.integrations.fakes import fake_api
from tests.projects.support import worker_in_thread

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "src-token-0123456789abcdef"

PAGE_1 = [
    {"id": "a1", "name": "  Ada Lovelace ", "age": "36", "tier": "g", "joined": "1842-01-05"},
    {"id": "a2", "name": "Alan", "age": 41, "tier": "s", "joined": "1936-05-28T10:00:00Z"},
    {"id": "a3", "name": "Grace", "age": "85", "tier": "g"},
]
PAGE_2 = [
    {"id": "b1", "name": "Bad Age", "age": "old", "tier": "g"},  # int transform fails
    {"id": "b2", "name": "Edsger", "age": "72", "tier": "s", "joined": "1930-05-11"},
    {"id": "b3", "age": "30", "tier": "zz"},  # required name missing, tier not in map
]
PAGE_3 = [{"id": "c1", "name": "Barbara", "age": "82", "tier": "s"}]


class Source:
    """Three pages: ``next_cursor`` from page 1, a full ``next`` URL from page 2. Page 2
    waits for the test (``hold``) so the test can look at the job while it runs."""

    def __init__(self) -> None:
        self.page_2_asked = threading.Event()
        self.hold = threading.Event()
        self.base = ""

    def respond(self, received):
        if received.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"error": "bad token"}
        query = parse_qs(urlsplit(received.path).query)
        if urlsplit(received.path).path == "/people/page3":
            return 200, {"records": PAGE_3, "total": 7}
        if query.get("cursor") == ["p2"]:
            self.page_2_asked.set()
            if not self.hold.wait(20):
                return 500, {"error": "never released"}
            return 200, {"records": PAGE_2, "next": f"{self.base}/people/page3", "total": 7}
        return 200, {"records": PAGE_1, "next_cursor": "p2", "total": 7}


@pytest.fixture
def source(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    src = Source()
    with fake_api(src.respond) as api:
        src.base = api.base
        src.api = api
        yield src
        src.hold.set()


def _integration(personas, url: str) -> Integration:
    with service_context(reason="test fixture"):
        return Integration.objects.create(
            organization=personas.org,
            provider="http_json",
            name="People",
            config={"url": url},
            credentials_encrypted=crypto.encrypt_json({"token": TOKEN}),
        )


MAPPINGS = [
    {"source_field": "name", "target_field": "name", "transform": "trim", "required": True},
    {"source_field": "age", "target_field": "age", "transform": "int", "required": True},
    {
        "source_field": "tier",
        "target_field": "tier",
        "transform": "map",
        "map_table": {"g": "gold", "s": "silver"},
    },
    {"source_field": "joined", "target_field": "joined", "transform": "date", "default": None},
    {"source_field": "country", "target_field": "country", "transform": "upper", "default": "GB"},
]


def _base(personas, integration) -> str:
    return f"/api/v1/orgs/{personas.org.slug}/integrations/{integration.id}/"


def test_sync_moves_records_with_progress_ends_partial_and_refuses_a_second_run(personas, source):
    integration = _integration(personas, f"{source.base}/people")
    base = _base(personas, integration)
    admin = personas.client("admin")
    for order, mapping in enumerate(MAPPINGS):
        response = admin.post(f"{base}mappings/", {**mapping, "order": order}, format="json")
        assert response.status_code == 201, response.json()

    started = admin.post(f"{base}jobs/", {"kind": "sync"}, format="json")
    assert started.status_code == 202, started.json()
    job_url = f"{base}jobs/{started.json()['id']}/"
    assert started.json()["status"] == "queued"

    with worker_in_thread():
        assert source.page_2_asked.wait(20), "the worker never asked for page 2"
        # While the job waits on page 2: page 1 is written and the API shows progress.
        running = personas.client("member").get(job_url).json()
        assert running["status"] == "running"
        assert running["records_read"] == 3
        assert running["records_written"] == 3
        assert 0 < running["progress"] < 100
        assert running["progress"] == int(100 * 3 / 7)  # from the source's total
        assert running["cursor"].endswith("cursor=p2")
        # At most one job per integration in flight.
        second = admin.post(f"{base}jobs/", {"kind": "sync"}, format="json")
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "job_in_progress"
        source.hold.set()

    done = admin.get(job_url).json()
    assert done["status"] == "partial"
    assert done["progress"] == 100
    assert (done["records_read"], done["records_written"], done["records_failed"]) == (7, 5, 2)
    assert done["failed_records"] == [
        {"record": "b1", "errors": {"age": ["age: Expected a whole number."]}},
        {
            "record": "b3",
            "errors": {
                "name": ["name is required."],
                "tier": ["tier: 'zz' is not in the map table."],
            },
        },
    ]
    # Only the token went to the source, on every page (three pages, one request each).
    assert [r.method for r in source.api.requests] == ["GET", "GET", "GET"]

    with service_context(reason="test read"):
        records = {
            r.external_id: r.data
            for r in IntegrationRecord.objects.filter(integration_id=integration.id)
        }
    assert set(records) == {"a1", "a2", "a3", "b2", "c1"}
    assert records["a1"] == {
        "name": "Ada Lovelace",
        "age": 36,
        "tier": "gold",
        "joined": "1842-01-05",
        "country": "GB",
    }
    assert records["a2"]["joined"] == "1936-05-28"
    assert "joined" not in records["a3"]

    # A re-run is idempotent: the same five records, updated in place.
    again = admin.post(f"{base}jobs/", {"kind": "sync"}, format="json")
    assert again.status_code == 202
    with worker_in_thread():
        pass
    assert admin.get(f"{base}jobs/{again.json()['id']}/").json()["status"] == "partial"
    with service_context(reason="test read"):
        assert IntegrationRecord.objects.filter(integration_id=integration.id).count() == 5


def test_cancel_a_queued_job_and_a_failing_source_fails_cleanly(personas, source):
    integration = _integration(personas, f"{source.base}/people")
    base = _base(personas, integration)
    admin = personas.client("admin")
    job = admin.post(f"{base}jobs/", {}, format="json").json()
    canceled = admin.post(f"{base}jobs/{job['id']}/cancel/")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert admin.post(f"{base}jobs/{job['id']}/cancel/").json()["error"]["code"] == "job_finished"
    with worker_in_thread():
        pass  # the queued task finds the job canceled and does nothing
    assert source.api.requests == []

    # A source that refuses the token: failed, with the status only (no body, no token).
    with service_context(reason="test fixture"):
        Integration.objects.filter(id=integration.id).update(
            credentials_encrypted=crypto.encrypt_json({"token": "wrong-token-0000"})
        )
    job = admin.post(f"{base}jobs/", {}, format="json").json()
    with worker_in_thread():
        pass
    failed = admin.get(f"{base}jobs/{job['id']}/").json()
    assert failed["status"] == "failed"
    assert failed["error"] == "The source answered HTTP 401."
    with service_context(reason="test read"):
        assert IntegrationJob.objects.get(id=job["id"]).status == "failed"
