"""Finding 6 of the hardening review: a suspended organization gains no members and
nothing writes for it; a deactivated account writes nothing either.

The API base view refuses writes to a suspended organization; the paths no base
view guards — accepting an invitation, signing up from one, the invitation email —
use the same check (``organizations.tenancy.ensure_writable``). Background jobs
are covered in ``tests/projects/test_jobs_suspension.py``.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from organizations.models import Organization
from organizations.services import organization_set_suspended
from organizations.tenancy import (
    OrganizationSuspended,
    UserInactive,
    ensure_writable,
    service_context,
    tenant_context,
)
from tests.helpers import PASSWORD, client_for, make_user
from tests.organizations.support import (
    ACCEPT,
    error_code,
    make_invitation,
    mint_token,
    reload_invitation,
    roles_in,
    run_worker,
)

pytestmark = pytest.mark.django_db


def suspend(org: Organization) -> None:
    with service_context(reason="test fixture"):
        organization_set_suspended(actor=None, organization=org, suspended=True)


def test_accepting_an_invitation_to_a_suspended_organization_is_refused(personas):
    invitation = make_invitation(personas.org, "newbie@example.test")
    token = mint_token(invitation)
    newbie = make_user("newbie@example.test")
    suspend(personas.org)

    response = client_for(newbie).post(ACCEPT, {"token": token}, format="json")

    assert response.status_code == 403
    assert error_code(response) == "organization_suspended"
    assert "newbie@example.test" not in roles_in(personas.org)
    assert reload_invitation(invitation).accepted_at is None  # still usable once lifted


def test_the_invitation_works_again_once_the_suspension_is_lifted(personas):
    token = mint_token(make_invitation(personas.org, "newbie@example.test"))
    newbie = make_user("newbie@example.test")
    suspend(personas.org)
    assert client_for(newbie).post(ACCEPT, {"token": token}, format="json").status_code == 403
    with service_context(reason="test fixture"):
        organization_set_suspended(actor=None, organization=personas.org, suspended=False)

    response = client_for(newbie).post(ACCEPT, {"token": token}, format="json")

    assert response.status_code == 201
    assert roles_in(personas.org)["newbie@example.test"] == "member"


def test_signing_up_from_an_invitation_to_a_suspended_organization_creates_nothing(personas):
    token = mint_token(make_invitation(personas.org, "newbie@example.test"))
    suspend(personas.org)

    response = APIClient().post(
        "/api/v1/auth/signup/",
        {"email": "newbie@example.test", "password": PASSWORD, "invitation_token": token},
        format="json",
    )

    assert response.status_code == 403
    assert error_code(response) == "organization_suspended"
    assert not User.objects.filter(email="newbie@example.test").exists()
    assert "newbie@example.test" not in roles_in(personas.org)


@pytest.mark.django_db(transaction=True)  # the worker commits for real
def test_the_invitation_email_is_not_sent_for_a_suspended_organization(personas, mailoutbox):
    invitation = make_invitation(personas.org, "newbie@example.test")
    from organizations.tasks import send_invitation_email

    suspend(personas.org)
    send_invitation_email.enqueue(str(invitation.id))

    run_worker()

    assert mailoutbox == []
    assert reload_invitation(invitation).send_count == 0


def test_tenant_context_refuses_work_for_a_suspended_organization_or_an_inactive_user(
    personas,
):
    member = personas.users["member"]
    with tenant_context(user_id=member.id, org_slug="acme", read_only=True) as org:
        assert org is not None
    suspend(personas.org)
    with pytest.raises(OrganizationSuspended), tenant_context(user_id=member.id, org_slug="acme"):
        pass
    with tenant_context(user_id=member.id, org_slug="acme", read_only=True) as org:
        assert org.suspended  # reading is still allowed
    viewer = personas.users["viewer"]
    User.objects.filter(id=viewer.id).update(is_active=False)
    with pytest.raises(UserInactive), tenant_context(user_id=viewer.id, org_slug="globex"):
        pass
    with pytest.raises(UserInactive), tenant_context(user_id=viewer.id):
        pass


def test_ensure_writable_reads_the_organization_when_not_told(personas):
    with service_context(reason="test"):
        ensure_writable(organization_id=personas.org.id)
    suspend(personas.org)
    with service_context(reason="test"), pytest.raises(OrganizationSuspended):
        ensure_writable(organization_id=personas.org.id)
