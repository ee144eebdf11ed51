"""Issue 22 §4: a staff console built for support — the member count under search,
links from an organization and a user to what support needs, support actions that
ask a reason and audit it, and plural names that read right."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from accounts import services as account_services
from accounts.models import Session, User
from audit.models import AuditEvent
from organizations.models import Membership, Organization
from organizations.tenancy import service_context
from tests.accounts.support import enable_totp
from tests.admin.support import changed_tables, database_state, staff_client, staff_with_permissions
from tests.helpers import client_for, make_user

pytestmark = pytest.mark.django_db

ORGS = "/admin/organizations/organization/"
USERS = "/admin/accounts/user/"


@pytest.fixture
def superstaff(personas) -> Client:
    return staff_client(make_user("root@example.test", is_staff=True, is_superuser=True))


def _read(queryset):
    with service_context(reason="test read"):
        return list(queryset)


def _member_count_cell(html: str, slug: str) -> str:
    row = re.search(rf'<tr>(?:(?!</tr>).)*field-slug">{slug}<(?:(?!</tr>).)*</tr>', html, re.S)
    assert row, html[:2000]
    return re.search(r'field-member_count">(\d+)<', row.group(0)).group(1)


def test_the_member_count_is_right_under_a_search(personas, superstaff):
    """Before: searching joined the memberships again (by member email) and acme's 5
    members read 25."""
    members = len(_read(Membership.objects.filter(organization=personas.org)))
    assert members > 1
    plain = superstaff.get(ORGS).content.decode()
    searched = superstaff.get(ORGS, {"q": "acme"}).content.decode()
    assert _member_count_cell(plain, "acme") == str(members)
    assert _member_count_cell(searched, "acme") == str(members)
    ordered = superstaff.get(ORGS, {"q": "acme", "o": "3"}).content.decode()
    assert _member_count_cell(ordered, "acme") == str(members)


def test_an_organization_links_to_everything_support_needs(personas, superstaff):
    page = superstaff.get(f"{ORGS}{personas.org.pk}/change/").content.decode()
    for path in (
        "/admin/organizations/membership/?org=acme",
        "/admin/projects/project/?org=acme",
        "/admin/sites/site/?org=acme",
        "/admin/billing/subscription/?org=acme",
        "/admin/audit/auditevent/?org=acme",
    ):
        assert f'href="{path}"' in page, path
    # The links work: the members list filtered to acme lists acme's members only.
    members = superstaff.get("/admin/organizations/membership/", {"org": "acme"})
    assert members.status_code == 200
    rows = members.content.decode().split('id="result_list"')[1].split("</table>")[0]
    assert "acme" in rows and "globex" not in rows


def test_a_user_shows_their_organizations_sessions_and_mfa_state(personas, superstaff):
    owner = personas.users["owner"]
    page = superstaff.get(f"{USERS}{owner.pk}/change/").content.decode()
    assert "Two-factor authentication" in page and ">Off<" in page
    assert f'href="/admin/organizations/membership/?q={owner.email.replace("@", "%40")}"' in page
    enable_totp(client_for(owner))
    page = superstaff.get(f"{USERS}{owner.pk}/change/").content.decode()
    assert "On since" in page and "10 recovery codes left" in page


def _run_action(client, url, action, pks, reason=None):
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0"}
    if reason is not None:
        data |= {"apply": "yes", "reason": reason}
    return client.post(url, data)


def _audit(action):
    return _read(AuditEvent.objects.filter(action=action).order_by("sequence"))


def test_resetting_a_locked_out_users_mfa_asks_a_reason_and_audits_it(personas, superstaff):
    owner = personas.users["owner"]
    enable_totp(client_for(owner))
    asked = _run_action(superstaff, USERS, "reset_mfa", [owner.pk])
    assert asked.status_code == 200
    assert 'id="action-reason-form"' in asked.content.decode()
    assert User.objects.get(pk=owner.pk).mfa_enabled  # nothing yet

    empty = _run_action(superstaff, USERS, "reset_mfa", [owner.pk], reason="  ")
    assert 'id="action-reason-form"' in empty.content.decode()
    assert User.objects.get(pk=owner.pk).mfa_enabled

    done = _run_action(superstaff, USERS, "reset_mfa", [owner.pk], reason="ticket 42: lost phone")
    assert done.status_code == 302
    assert not User.objects.get(pk=owner.pk).mfa_enabled
    (event,) = _audit("user.mfa_reset")
    assert event.changes["reason"] == "ticket 42: lost phone"
    assert (event.actor_type, event.actor_id) == ("staff", superstaff.staff.id)


def test_ending_a_users_sessions_asks_a_reason_and_audits_it(personas, superstaff):
    member = personas.users["member"]
    account_services.session_create(user=member)
    account_services.session_create(user=member)
    open_sessions = Session.objects.filter(user=member, revoked_at__isnull=True)
    assert _read(open_sessions)

    done = _run_action(superstaff, USERS, "end_sessions", [member.pk], reason="stolen laptop")
    assert done.status_code == 302
    assert _read(open_sessions.all()) == []
    assert User.objects.get(pk=member.pk).is_active  # only the sessions end
    (event,) = _audit("user.sessions_ended")
    assert event.changes["reason"] == "stolen laptop"
    assert event.changes["sessions_ended"] >= 2


def test_suspending_and_lifting_an_organization_ask_a_reason_and_audit_it(personas, superstaff):
    org = personas.other_org
    asked = _run_action(superstaff, ORGS, "suspend", [org.pk])
    assert 'id="action-reason-form"' in asked.content.decode()
    assert _read(Organization.objects.filter(pk=org.pk, suspended_at__isnull=False)) == []

    _run_action(superstaff, ORGS, "suspend", [org.pk], reason="chargeback")
    assert _read(Organization.objects.filter(pk=org.pk, suspended_at__isnull=False))
    _run_action(superstaff, ORGS, "unsuspend", [org.pk], reason="resolved with the bank")
    assert _read(Organization.objects.filter(pk=org.pk, suspended_at__isnull=True))
    assert [e.changes["reason"] for e in _audit("org.suspended")] == ["chargeback"]
    assert [e.changes["reason"] for e in _audit("org.unsuspended")] == ["resolved with the bank"]


@pytest.mark.parametrize(
    "url, action",
    [(USERS, "reset_mfa"), (USERS, "end_sessions"), (ORGS, "suspend"), (ORGS, "unsuspend")],
)
def test_view_only_staff_cannot_run_a_support_action(personas, url, action):
    owner = personas.users["owner"]
    enable_totp(client_for(owner))
    account_services.session_create(user=owner)
    viewer = staff_client(staff_with_permissions("viewer@example.test", prefixes=("view_",)))
    pks = [owner.pk] if url == USERS else [personas.org.pk]
    before = database_state()
    response = _run_action(viewer, url, action, pks, reason="trying")
    assert response.status_code in (200, 302)
    assert changed_tables(before, database_state()) == []


def test_every_plural_name_reads_right():
    """Every model of the project and every model the admin shows: no "deliverys"."""
    models = {
        *(m for m in apps.get_models() if not m._meta.app_label.startswith(("django", "auth"))),
        *admin.site._registry,
    }
    wrong = []
    for model in models:
        plural = str(model._meta.verbose_name_plural)
        if re.search(r"[^aeiou]ys$|(?:s|x|ch|sh)s$", plural):
            wrong.append(f"{model._meta.label}: {plural}")
    assert wrong == []
    from integrations.models import WebhookDelivery

    assert WebhookDelivery._meta.verbose_name_plural == "webhook deliveries"
