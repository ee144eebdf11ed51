"""Quotas: enforced atomically on the write paths, refused with 402 and the numbers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.errors import QuotaExceeded
from billing.models import QuotaOverride, Subscription, UsageCounter
from billing.quotas import (
    period_start,
    quota_check_count,
    record_usage,
    usage_consume,
    usage_release,
    usage_reserve,
    usage_settle,
)
from organizations.tenancy import enter_org, service_context
from projects.models import Project
from tests.helpers import client_for, make_personas

FREE_PROJECTS = 10  # the free plan's project limit, from the catalog defaults


def _override(org, metric: str, limit: int | None) -> None:
    with service_context(reason="test fixture"):
        QuotaOverride.objects.update_or_create(
            organization_id=org.id,
            metric=metric,
            defaults={
                "limit": limit,
                "reason": "test",
                "expires_at": timezone.now() + timedelta(days=1),
            },
        )


def _make_projects(org, n: int) -> None:
    with service_context(reason="test fixture"):
        Project.objects.bulk_create(
            [Project(organization_id=org.id, name=f"p{i}", slug=f"p{i}") for i in range(n)]
        )


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_creates_against_ten_free_slots_exactly_ten_succeed():
    personas = make_personas()
    clients = [client_for(personas.user("member")) for _ in range(20)]
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        try:
            barrier.wait()
            response = clients[n].post(
                "/api/v1/orgs/acme/projects/", {"name": f"Race {n}"}, format="json"
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] * FREE_PROJECTS + [402] * (20 - FREE_PROJECTS)
    with service_context(reason="test read"):
        assert Project.objects.filter(organization_id=personas.org.id).count() == FREE_PROJECTS


@pytest.mark.django_db
def test_an_org_over_its_project_limit_gets_402_with_the_numbers(personas):
    _make_projects(personas.org, 12)  # e.g. left over from a downgrade: nothing is deleted

    response = personas.client("member").post(
        "/api/v1/orgs/acme/projects/", {"name": "One more"}, format="json"
    )

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"] == {
        "metric": "projects",
        "limit": FREE_PROJECTS,
        "usage": 12,
        "requested": 1,
    }
    with service_context(reason="test read"):
        assert Project.objects.filter(organization_id=personas.org.id).count() == 12


@pytest.mark.django_db
def test_private_projects_a_member_cannot_see_still_count(personas):
    with service_context(reason="test fixture"):
        Project.objects.bulk_create(
            [
                Project(
                    organization_id=personas.org.id,
                    name=f"s{i}",
                    slug=f"s{i}",
                    visibility="private",
                )
                for i in range(FREE_PROJECTS)
            ]
        )
    listed = personas.client("member").get("/api/v1/orgs/acme/projects/").json()["results"]
    assert listed == []
    response = personas.client("member").post(
        "/api/v1/orgs/acme/projects/", {"name": "Visible"}, format="json"
    )
    assert response.status_code == 402
    assert response.json()["error"]["details"]["usage"] == FREE_PROJECTS


@pytest.mark.django_db
def test_a_staff_override_raises_the_limit_and_an_expired_one_does_not(personas):
    _make_projects(personas.org, FREE_PROJECTS)
    _override(personas.org, "projects", 11)
    owner = personas.client("owner")
    assert (
        owner.post("/api/v1/orgs/acme/projects/", {"name": "A"}, format="json").status_code == 201
    )
    assert (
        owner.post("/api/v1/orgs/acme/projects/", {"name": "B"}, format="json").status_code == 402
    )
    with service_context(reason="test fixture"):
        QuotaOverride.objects.filter(organization_id=personas.org.id).update(
            limit=100, expires_at=timezone.now() - timedelta(seconds=1)
        )
    assert (
        owner.post("/api/v1/orgs/acme/projects/", {"name": "C"}, format="json").status_code == 402
    )


@pytest.mark.django_db
def test_a_paid_plan_lifts_the_limit(personas):
    _make_projects(personas.org, FREE_PROJECTS)
    with service_context(reason="test fixture"):
        Subscription.objects.update_or_create(
            organization_id=personas.org.id, defaults={"plan_code": "pro", "status": "active"}
        )
    response = personas.client("member").post(
        "/api/v1/orgs/acme/projects/", {"name": "Pro"}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_invitations_count_as_members(personas):
    # acme has 5 members; allow 6 seats: one invitation fits, the second does not.
    _override(personas.org, "members", 6)
    admin = personas.client("admin")
    first = admin.post(
        "/api/v1/orgs/acme/invitations/", {"email": "a@new.test", "role": "member"}, format="json"
    )
    assert first.status_code == 201, first.content
    second = admin.post(
        "/api/v1/orgs/acme/invitations/", {"email": "b@new.test", "role": "member"}, format="json"
    )
    assert second.status_code == 402
    assert second.json()["error"]["details"] == {
        "metric": "members",
        "limit": 6,
        "usage": 6,
        "requested": 1,
    }


@pytest.mark.django_db
def test_resending_an_expired_invitation_takes_a_seat_like_a_new_one(personas):
    """Issue 17 §5: expired invitations resent one by one grew acme to 18 of 10."""
    from organizations.models import Invitation
    from tests.organizations.support import make_invitation

    # acme has 5 members; 6 seats: one open invitation fills the plan.
    _override(personas.org, "members", 6)
    make_invitation(personas.org, "open@new.test")
    expired = make_invitation(personas.org, "late@new.test", expires_in=timedelta(hours=-1))

    response = personas.client("admin").post(f"/api/v1/orgs/acme/invitations/{expired.id}/resend/")

    assert response.status_code == 402, response.content
    assert response.json()["error"]["details"] == {
        "metric": "members",
        "limit": 6,
        "usage": 6,
        "requested": 1,
    }
    with service_context(reason="test: read back"):
        assert Invitation.objects.get(pk=expired.pk).expires_at == expired.expires_at


@pytest.mark.django_db
def test_resending_an_invitation_that_still_holds_its_seat_needs_no_new_one(personas):
    from tests.organizations.support import make_invitation

    _override(personas.org, "members", 6)
    invitation = make_invitation(personas.org, "open@new.test")  # the sixth seat

    response = personas.client("admin").post(
        f"/api/v1/orgs/acme/invitations/{invitation.id}/resend/"
    )

    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_storage_bytes_are_checked_on_upload(personas):
    owner = personas.client("owner")
    created = owner.post("/api/v1/orgs/acme/projects/", {"name": "Files"}, format="json")
    assert created.status_code == 201
    _override(personas.org, "storage_bytes", 10)
    from django.core.files.uploadedfile import SimpleUploadedFile

    small = SimpleUploadedFile("a.txt", b"12345678", content_type="text/plain")
    url = "/api/v1/orgs/acme/projects/files/assets/"
    response = owner.post(url, {"file": small, "kind": "upload"}, format="multipart")
    assert response.status_code == 201, response.content
    more = SimpleUploadedFile("b.txt", b"12345", content_type="text/plain")
    response = owner.post(url, {"file": more, "kind": "upload"}, format="multipart")
    assert response.status_code == 402
    assert response.json()["error"]["details"] == {
        "metric": "storage_bytes",
        "limit": 10,
        "usage": 8,
        "requested": 5,
    }


# --- metered ------------------------------------------------------------------------------


def _in_acme(personas, persona: str = "member"):
    ctx = enter_org(personas.user(persona).id, "acme")
    assert ctx is not None
    return ctx.organization_id


@pytest.mark.django_db
def test_usage_consume_stops_at_the_limit_in_one_statement(personas):
    _override(personas.org, "deployments", 3)
    with transaction.atomic():
        org_id = _in_acme(personas)
        assert usage_consume(organization_id=org_id, metric="deployments", amount=2) == 2
        with pytest.raises(QuotaExceeded) as refused:
            usage_consume(organization_id=org_id, metric="deployments", amount=2)
        assert refused.value.details == {
            "metric": "deployments",
            "limit": 3,
            "usage": 2,
            "requested": 2,
        }
        assert usage_consume(organization_id=org_id, metric="deployments", amount=1) == 3
    with service_context(reason="test read"):
        counter = UsageCounter.objects.get(organization_id=personas.org.id, metric="deployments")
    assert (counter.used, counter.period_start) == (3, period_start())


@pytest.mark.django_db
def test_ai_tokens_reserve_settle_release(personas):
    _override(personas.org, "ai_tokens", 1000)
    with transaction.atomic():
        org_id = _in_acme(personas)
        reservation = usage_reserve(organization_id=org_id, amount=600)
        with pytest.raises(QuotaExceeded):
            usage_reserve(organization_id=org_id, amount=600)  # 1200 > 1000
        assert usage_settle(reservation=reservation, actual=250) == 250
        second = usage_reserve(organization_id=org_id, amount=700)  # 950 <= 1000
        assert usage_release(reservation=second) == 250
        assert record_usage(organization_id=org_id, metric="ai_tokens", amount=-9999) == 0


@pytest.mark.django_db
def test_a_viewer_cannot_consume_another_orgs_counter(personas):
    """The quota functions answer only for the organization the caller is in."""
    with transaction.atomic():
        _in_acme(personas, "viewer")
        from django.db import ProgrammingError

        with pytest.raises(ProgrammingError), transaction.atomic():
            quota_check_count(organization_id=personas.other_org.id, metric="projects")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_consumers_against_ten_units_exactly_ten_succeed():
    from organizations.tenancy import tenant_context

    personas = make_personas()
    _override(personas.org, "deployments", 10)
    member = personas.user("member")
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        try:
            barrier.wait()
            try:
                with tenant_context(user_id=member.id, org_slug="acme") as ctx:
                    usage_consume(
                        organization_id=ctx.organization_id, metric="deployments", amount=1
                    )
                outcome = "ok"
            except QuotaExceeded:
                outcome = "refused"
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=consume) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok"] * 10 + ["refused"] * 10
    with service_context(reason="test read"):
        assert UsageCounter.objects.get(organization_id=personas.org.id).used == 10
