"""Field mappings: the dry run on a sample record (transformed record or per-field
errors), mapping rules, lists with constant query counts, and who sees what (members
read; viewers and billing see none, also in raw SQL)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations import crypto
from integrations.models import DataMapping, Integration, IntegrationJob
from organizations.tenancy import service_context, tenant_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(personas):
    with service_context(reason="test fixture"):
        return Integration.objects.create(
            organization=personas.org,
            provider="http_json",
            name="Source",
            config={"url": "https://source.example.test/items"},
            credentials_encrypted=crypto.encrypt_json({}),
        )


def _url(personas, integration, rest: str = "") -> str:
    return f"/api/v1/orgs/{personas.org.slug}/integrations/{integration.id}/{rest}"


def _map(personas, integration, **body):
    response = personas.client("admin").post(
        _url(personas, integration, "mappings/"), body, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_dry_run_returns_the_transformed_record_or_every_field_error(personas, integration):
    _map(
        personas,
        integration,
        source_field="user.email",
        target_field="email",
        transform="lower",
        required=True,
        order=1,
    )
    _map(
        personas,
        integration,
        source_field="price",
        target_field="price",
        transform="decimal",
        order=2,
    )
    _map(
        personas,
        integration,
        source_field="qty",
        target_field="qty",
        transform="int",
        default=1,
        order=3,
    )
    _map(personas, integration, source_field="on", target_field="on", transform="date", order=4)
    _map(
        personas, integration, source_field="code", target_field="code", transform="upper", order=0
    )
    url = _url(personas, integration, "mappings/dry-run/")
    admin = personas.client("admin")

    good = admin.post(
        url,
        {
            "record": {
                "user": {"email": " Ada@Example.COM "},
                "price": "12.50",
                "on": "2024-02-29",
                "code": "ab",
            }
        },
        format="json",
    ).json()
    assert good == {
        "valid": True,
        "record": {
            "code": "AB",
            "email": "ada@example.com",
            "price": "12.50",
            "qty": 1,
            "on": "2024-02-29",
        },
        "errors": {},
    }
    assert list(good["record"]) == ["code", "email", "price", "qty", "on"]  # in order

    bad = admin.post(
        url, {"record": {"price": "twelve", "qty": "1.5", "on": "2024-02-30"}}, format="json"
    ).json()
    assert bad["valid"] is False
    assert bad["errors"] == {
        "email": ["user.email is required."],
        "price": ["price: Expected a decimal number."],
        "qty": ["qty: Expected a whole number."],
        "on": ["on: Expected an ISO 8601 date."],
    }
    assert admin.post(url, {"record": [1]}, format="json").json()["errors"] == {
        "_record": ["A record is a JSON object."]
    }


def test_mapping_rules(personas, integration):
    admin = personas.client("admin")
    url = _url(personas, integration, "mappings/")
    _map(personas, integration, source_field="a", target_field="a")
    taken = admin.post(url, {"source_field": "b", "target_field": "a"}, format="json")
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "mapping_target_taken")
    no_table = admin.post(
        url, {"source_field": "c", "target_field": "c", "transform": "map"}, format="json"
    )
    assert no_table.status_code == 400
    assert "map_table" in no_table.json()["error"]["details"]
    mapping = admin.get(url).json()["results"][0]
    patched = admin.patch(f"{url}{mapping['id']}/", {"transform": "trim"}, format="json")
    assert patched.json()["transform"] == "trim"
    assert admin.delete(f"{url}{mapping['id']}/").status_code == 204


def test_lists_use_constant_queries_and_filter(personas, integration):
    admin = personas.client("admin")

    def fill(n: int) -> None:
        with service_context(reason="test fixture"):
            start = DataMapping.objects.filter(integration=integration).count()
            for i in range(start, start + n):
                DataMapping.objects.create(
                    organization=personas.org,
                    integration=integration,
                    source_field=f"s{i}",
                    target_field=f"t{i}",
                    transform="upper" if i % 2 else "none",
                )
                IntegrationJob.objects.create(
                    organization=personas.org,
                    integration=integration,
                    status="succeeded" if i % 2 else "failed",
                )

    counts = []
    for n in (2, 8):
        fill(n)
        with CaptureQueriesContext(connection) as ctx:
            assert admin.get(_url(personas, integration, "mappings/")).status_code == 200
            assert admin.get(_url(personas, integration, "jobs/")).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]
    assert (
        len(admin.get(_url(personas, integration, "mappings/?transform=upper")).json()["results"])
        == 5
    )
    assert len(admin.get(_url(personas, integration, "jobs/?status=failed")).json()["results"]) == 5


@pytest.mark.parametrize(("persona", "sees"), [("member", 1), ("viewer", 0), ("billing", 0)])
def test_who_sees_mappings_and_jobs_in_raw_sql(personas, integration, persona, sees):
    _map(personas, integration, source_field="a", target_field="a")
    with service_context(reason="test fixture"):
        IntegrationJob.objects.create(organization=personas.org, integration=integration)
    with (
        tenant_context(user_id=personas.users[persona].id, org_slug=personas.org.slug),
        connection.cursor() as cur,
    ):
        cur.execute("SELECT count(*) FROM integrations_datamapping")
        assert cur.fetchone()[0] == sees
        cur.execute("SELECT count(*) FROM integrations_integrationjob")
        assert cur.fetchone()[0] == sees


def test_a_member_cannot_write_mappings_or_jobs_in_raw_sql(personas, integration):
    from django.db import DatabaseError, transaction

    with (
        tenant_context(user_id=personas.users["member"].id, org_slug=personas.org.slug),
        pytest.raises(DatabaseError),
        transaction.atomic(),
    ):
        IntegrationJob.objects.create(organization=personas.org, integration=integration)


def test_a_second_job_is_refused_by_the_database_too(personas, integration):
    from django.db import IntegrityError, transaction

    with service_context(reason="test fixture"):
        IntegrationJob.objects.create(
            organization=personas.org, integration=integration, status="running"
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            IntegrationJob.objects.create(organization=personas.org, integration=integration)
        IntegrationJob.objects.create(
            organization=personas.org, integration=integration, status="failed"
        )


def test_a_job_whose_starter_is_no_longer_an_admin_fails_with_lost_access(personas, integration):
    from integrations import sync
    from organizations.models import Membership

    with service_context(reason="test fixture"):
        job = IntegrationJob.objects.create(
            organization=personas.org, integration=integration, created_by=personas.users["admin"]
        )
        Membership.objects.filter(organization=personas.org, user=personas.users["admin"]).update(
            role="member"
        )
    assert sync.run_job(str(job.id)) == "failed"
    with service_context(reason="test read"):
        job.refresh_from_db()
    assert (job.status, job.error) == ("failed", sync.LOST_ACCESS)
