"""The invitation email, end to end: API -> on_commit -> task queue -> worker -> mailbox -> accept.

These tests commit for real (``transaction=True``) so ``on_commit`` fires and
the worker (``manage.py db_worker --batch``) sees the queued task.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from organizations.services import hash_token
from tests.helpers import client_for, make_user
from tests.organizations.support import (
    ACCEPT,
    invitation_by_id,
    make_invitation,
    org_url,
    reload_invitation,
    roles_in,
    run_worker,
)

pytestmark = pytest.mark.django_db(transaction=True)

INVITATIONS = org_url("acme", "invitations/")
ACCEPT_LINK = re.compile(r"https?://\S+/invitations/accept\?token=([A-Za-z0-9_\-]+)")


def test_creating_an_invitation_queues_the_invitation_email(personas):
    response = personas.client("admin").post(
        INVITATIONS, {"email": "newbie@example.test", "role": "member"}, format="json"
    )

    assert response.status_code == 201
    queued = DBTaskResult.objects.filter(status="READY")
    assert [(t.task_path, t.args_kwargs["args"]) for t in queued] == [
        ("organizations.tasks.send_invitation_email", [response.json()["id"]])
    ]


def test_the_worker_emails_an_accept_link_that_joins_the_invitee(personas, mailoutbox):
    response = personas.client("admin").post(
        INVITATIONS, {"email": "newbie@example.test", "role": "viewer"}, format="json"
    )
    assert response.status_code == 201
    invitation_id = response.json()["id"]

    run_worker()

    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["newbie@example.test"]
    assert "Acme" in message.subject
    token = ACCEPT_LINK.search(message.body).group(1)
    invitation = invitation_by_id(invitation_id)
    assert invitation.token_hash == hash_token(token)
    assert invitation.send_count == 1

    newbie = make_user("newbie@example.test")
    accepted = client_for(newbie).post(ACCEPT, {"token": token}, format="json")
    assert accepted.status_code == 201, accepted.json()
    assert roles_in(personas.org)["newbie@example.test"] == "viewer"


def test_resend_emails_a_new_link_and_counts_the_send_once_the_task_runs(personas, mailoutbox):
    invitation = make_invitation(
        personas.org, "late@example.test", expires_in=timezone.timedelta(hours=-1), send_count=1
    )

    response = personas.client("admin").post(f"{INVITATIONS}{invitation.id}/resend/")
    assert response.status_code == 200
    assert reload_invitation(invitation).send_count == 1  # nothing sent yet

    run_worker()

    resent = reload_invitation(invitation)
    assert resent.send_count == 2
    assert resent.expires_at > timezone.now() + timezone.timedelta(days=6)
    assert [m.to for m in mailoutbox] == [["late@example.test"]]
    token = ACCEPT_LINK.search(mailoutbox[0].body).group(1)
    assert resent.token_hash == hash_token(token)


def test_the_task_sends_nothing_for_an_invitation_revoked_before_it_ran(personas, mailoutbox):
    response = personas.client("admin").post(
        INVITATIONS, {"email": "newbie@example.test"}, format="json"
    )
    personas.client("admin").delete(f"{INVITATIONS}{response.json()['id']}/")

    run_worker()

    assert mailoutbox == []
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"]
