"""The audit trail: written with the change, chained by the database, readable by admins."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.services import audit_record, audit_verify
from organizations.tenancy import service_context, tenant_context
from tests.helpers import client_for

URL = "/api/v1/orgs/acme/audit-events/"


def _events(org_id) -> list[AuditEvent]:
    with service_context(reason="test read"):
        return list(AuditEvent.objects.filter(organization_id=org_id).order_by("sequence"))


@pytest.mark.django_db
def test_each_orgs_events_are_numbered_and_chained(personas):
    client = personas.client("owner")
    client.patch("/api/v1/orgs/acme/", {"name": "Acme Two"}, format="json")
    client.post("/api/v1/orgs/acme/invitations/", {"email": "a@example.test"}, format="json")
    events = _events(personas.org.id)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [e.action for e in events][-2:] == ["org.updated", "member.invited"]
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash and len(event.hash) == 64
    with service_context(reason="test verify"):
        checked, problems = audit_verify()
    assert checked >= len(events) and problems == []


@pytest.mark.django_db
def test_an_update_is_recorded_with_what_changed_and_who_did_it(personas):
    personas.client("admin").patch(
        "/api/v1/orgs/acme/",
        {"name": "Acme Ltd"},
        format="json",
        HTTP_USER_AGENT="pytest-agent",
        HTTP_X_REQUEST_ID="req-audit-001",
    )
    event = _events(personas.org.id)[-1]
    assert event.action == "org.updated"
    assert event.actor_id == personas.user("admin").id and event.actor_type == "user"
    assert event.changes == {"name": {"from": "Acme", "to": "Acme Ltd"}}
    assert (event.user_agent, event.request_id) == ("pytest-agent", "req-audit-001")


@pytest.mark.django_db
def test_owners_and_admins_read_the_log_with_filters(personas):
    owner = personas.client("owner")
    owner.patch("/api/v1/orgs/acme/", {"name": "Renamed"}, format="json")
    owner.post("/api/v1/orgs/acme/invitations/", {"email": "b@example.test"}, format="json")
    body = personas.client("admin").get(f"{URL}?action=org.updated").json()
    assert [e["action"] for e in body["results"]] == ["org.updated"]
    by_actor = owner.get(f"{URL}?actor={personas.user('owner').id}").json()["results"]
    assert {e["action"] for e in by_actor} == {"org.updated", "member.invited"}
    prefix = owner.get(f"{URL}?action_prefix=member.").json()["results"]
    assert {e["action"] for e in prefix} == {"member.invited"}
    future = owner.get(f"{URL}?created_after=2999-01-01T00:00:00Z").json()["results"]
    assert future == []
    assert owner.get(f"{URL}?created_after=yesterday").status_code == 400


@pytest.mark.django_db
def test_the_log_is_for_owners_and_admins_only(personas):
    assert personas.client("member").get(URL).status_code == 403
    assert personas.client("viewer").get(URL).status_code == 403
    assert personas.client("outsider").get(URL).status_code == 404


@pytest.mark.django_db
def test_listing_the_log_costs_the_same_queries_for_any_page_size(personas):
    client = personas.client("owner")
    for i in range(12):
        client.patch("/api/v1/orgs/acme/", {"name": f"Acme {i}"}, format="json")
    counts = []
    for size in (2, 12):
        with CaptureQueriesContext(connection) as ctx:
            assert len(client.get(f"{URL}?page_size={size}").json()["results"]) == size
        counts.append(len(ctx))
    assert counts[0] == counts[1]


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_audit_verify_detects_an_edited_event(personas):
    personas.client("owner").patch("/api/v1/orgs/acme/", {"name": "X"}, format="json")
    call_command("audit_verify")
    with connections["owner"].cursor() as cursor:  # only the owner could ever do this
        cursor.execute("UPDATE audit_auditevent SET changes = '{}' WHERE action = 'org.updated'")
    with pytest.raises(CommandError, match="problem"):
        call_command("audit_verify")


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_audit_verify_detects_a_deleted_event(personas):
    client = personas.client("owner")
    client.patch("/api/v1/orgs/acme/", {"name": "X"}, format="json")
    client.patch("/api/v1/orgs/acme/", {"name": "Y"}, format="json")
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "DELETE FROM audit_auditevent"
            " WHERE action = 'org.updated' AND changes->'name'->>'to' = 'X'"
        )
    with service_context(reason="test verify"):
        _, problems = audit_verify()
    kinds = {
        p.problem.split(" after ")[0] for p in problems if p.organization_id == personas.org.id
    }
    assert kinds == {"sequence gap", "prev_hash does not match the previous event"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_still_build_one_unbroken_chain(personas):
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(5):
                with tenant_context(user_id=personas.user("member").id, org_slug="acme"):
                    audit_record(
                        action="test.concurrent",
                        actor=personas.user("member"),
                        organization_id=personas.org.id,
                        changes={"thread": n, "i": i},
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    events = _events(personas.org.id)
    assert sum(e.action == "test.concurrent" for e in events) == 20
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    with service_context(reason="test verify"):
        assert audit_verify()[1] == []


@pytest.mark.django_db
def test_a_member_can_append_but_not_read_their_orgs_events(personas):
    member = personas.user("member")
    with tenant_context(user_id=member.id, org_slug="acme"):
        audit_record(action="test.member_wrote", actor=member, organization_id=personas.org.id)
        assert not AuditEvent.objects.filter(organization_id=personas.org.id).exists()
    assert _events(personas.org.id)[-1].action == "test.member_wrote"


@pytest.mark.django_db
def test_signing_in_is_a_platform_event(personas):
    client_for(None).post(
        "/api/v1/auth/token/",
        {"email": "member@acme.test", "password": "correct-horse-battery-9"},
        format="json",
    )
    with service_context(reason="test read"):
        event = AuditEvent.objects.filter(action="user.signed_in").latest("created_at")
    assert event.organization_id is None and event.actor_id == personas.user("member").id
