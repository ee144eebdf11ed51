"""Staff in the admin: they see every tenant, and their changes go through the
services (same rules, audited as staff)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User, UserSettings
from audit.models import AuditEvent
from organizations.models import Membership, Organization
from organizations.tenancy import service_context
from tests.helpers import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(personas) -> Client:
    staff = make_user("staff@example.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    client.staff = staff
    return client


def _read(queryset):
    with service_context(reason="test read"):
        return list(queryset)


def test_staff_see_every_tenant(staff_client):
    response = staff_client.get("/admin/organizations/organization/")
    assert response.status_code == 200
    assert b"acme" in response.content and b"globex" in response.content


def test_admin_writes_by_staff_are_audited_elevations(staff_client, personas):
    staff_client.post(
        "/admin/organizations/membership/",
        {"action": "make_viewer", "_selected_action": [str(personas.membership("member").id)]},
    )
    events = _read(AuditEvent.objects.filter(action="system.elevated", actor=staff_client.staff))
    assert [e.changes["reason"] for e in events] == ["admin POST /admin/organizations/membership/"]
    assert {e.actor_type for e in events} == {"staff"}


def test_admin_page_views_are_logged_not_audited(staff_client, caplog):
    with caplog.at_level("INFO", logger="organizations.tenancy.staff_read"):
        assert staff_client.get("/admin/organizations/membership/").status_code == 200
    assert not _read(AuditEvent.objects.filter(actor=staff_client.staff))
    [record] = [r for r in caplog.records if r.name == "organizations.tenancy.staff_read"]
    assert record.reason == "admin GET /admin/organizations/membership/"
    assert record.actor_id == str(staff_client.staff.id)


def test_admin_pages_for_every_model_render(staff_client, personas):
    for path in (
        "/admin/",
        "/admin/accounts/user/",
        "/admin/organizations/membership/",
        "/admin/organizations/invitation/",
        "/admin/audit/auditevent/",
        f"/admin/organizations/organization/{personas.org.id}/change/",
        f"/admin/accounts/user/{personas.user('owner').id}/change/",
    ):
        assert staff_client.get(path).status_code == 200, path


def test_non_staff_are_sent_to_the_login_page(personas):
    client = Client()
    client.force_login(personas.user("owner"))
    response = client.get("/admin/organizations/organization/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_change_a_role_through_the_service_and_it_is_audited_as_staff(staff_client, personas):
    membership = personas.membership("member")
    response = staff_client.post(
        "/admin/organizations/membership/",
        {
            "action": "make_viewer",
            "_selected_action": [str(membership.id)],
        },
    )
    assert response.status_code == 302
    assert _read(Membership.objects.filter(id=membership.id))[0].role == "viewer"
    event = _read(AuditEvent.objects.filter(action="member.role_changed"))[-1]
    assert (event.actor_id, event.actor_type) == (staff_client.staff.id, "staff")


def test_staff_cannot_remove_the_last_owner_either(staff_client, personas):
    owner = personas.membership("owner")
    response = staff_client.post(
        "/admin/organizations/membership/",
        {
            "action": "remove",
            "_selected_action": [str(owner.id)],
        },
        follow=True,
    )
    assert b"at least one owner" in response.content
    assert _read(Membership.objects.filter(id=owner.id))


def test_suspending_an_org_makes_it_read_only_for_its_members(staff_client, personas):
    chosen = {"action": "suspend", "_selected_action": [str(personas.org.id)]}
    owner = personas.client("owner")
    asked = staff_client.post("/admin/organizations/organization/", chosen)
    assert asked.status_code == 200 and b"reason" in asked.content  # the action asks first
    assert owner.get("/api/v1/orgs/acme/").json()["suspended"] is False
    staff_client.post(
        "/admin/organizations/organization/",
        {**chosen, "apply": "1", "reason": "chargeback under review"},
    )
    assert owner.get("/api/v1/orgs/acme/").json()["suspended"] is True
    response = owner.patch("/api/v1/orgs/acme/", {"name": "Nope"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "organization_suspended"


def test_staff_edit_an_org_through_the_service(staff_client, personas):
    url = f"/admin/organizations/organization/{personas.org.id}/change/"
    response = staff_client.post(
        url,
        {
            "name": "Acme Renamed",
            "slug": "acme",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "invitations-TOTAL_FORMS": "0",
            "invitations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert _read(Organization.objects.filter(id=personas.org.id))[0].name == "Acme Renamed"
    event = _read(AuditEvent.objects.filter(action="org.updated"))[-1]
    assert event.actor_type == "staff"
    assert event.changes == {"name": {"from": "Acme", "to": "Acme Renamed"}}


def test_staff_create_a_user_with_settings_and_an_audit_event(staff_client):
    response = staff_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Person@Example.test",
            "name": "New Person",
            "password": "long-enough-pass-42",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(email="new.person@example.test")
    assert user.check_password("long-enough-pass-42")
    assert _read(UserSettings.objects.filter(user=user))
    assert _read(AuditEvent.objects.filter(action="staff.user_updated", target_id=str(user.id)))


def test_the_audit_log_is_read_only_in_the_admin(staff_client):
    event = _read(AuditEvent.objects.all())[0]
    assert staff_client.get("/admin/audit/auditevent/add/").status_code == 403
    assert staff_client.get(f"/admin/audit/auditevent/{event.id}/delete/").status_code == 403
    assert staff_client.get(f"/admin/audit/auditevent/{event.id}/change/").status_code == 200
