"""No dead links in emails (issue 14, acceptance 2).

Every test runs with ``tests.accounts.email_links.LinkFollowingBackend``
(``tests/conftest.py``): each link of each email is followed on this server
when the email is sent, and a test whose emails hold a link that does not
answer 200 fails. Here: the check itself catches a dead link, and every kind
of email the product sends is sent once with its links followed.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import send_mail

from tests.accounts import email_links
from tests.helpers import PASSWORD, client_for, make_user
from tests.organizations.support import make_invitation

pytestmark = pytest.mark.django_db


def test_a_dead_link_in_an_email_is_caught():
    seen = len(email_links.dead)

    send_mail(
        "broken",
        f"Go to {settings.FRONTEND_URL}/no-such-page?x=1 or https://elsewhere.example/x.",
        settings.DEFAULT_FROM_EMAIL,
        ["a@example.test"],
    )

    caught = email_links.dead[seen:]
    del email_links.dead[seen:]  # expected here: do not fail this test at teardown
    assert len(caught) == 2
    assert "/no-such-page?x=1 -> 404" in caught[0]
    assert "https://elsewhere.example/x -> 0" in caught[1]


def test_a_link_that_answers_200_is_not_dead():
    seen = len(email_links.dead)

    send_mail(
        "fine", f"See {settings.FRONTEND_URL}/reset-password", "x@example.test", ["a@example.test"]
    )

    assert email_links.dead[seen:] == []
    assert email_links.followed[-1] == (f"{settings.FRONTEND_URL}/reset-password", 200)


def test_every_kind_of_email_is_sent_with_links_that_answer_200(
    personas, django_capture_on_commit_callbacks
):
    from organizations.tasks import send_invitation_email

    seen = len(email_links.followed)
    user = make_user("alice@example.test")
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/api/v1/auth/signup/",
            {"email": "new@example.test", "password": PASSWORD},
            format="json",
        )
        client.post("/api/v1/auth/password-reset/", {"email": "alice@example.test"}, format="json")
        client.post(
            "/api/v1/me/email/", {"email": "alice@new.test", "password": PASSWORD}, format="json"
        )
    change = next(m for m in mail.outbox if m.to == ["alice@new.test"])
    token = change.body.split("token=")[1].split()[0]
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/v1/auth/verify-email/", {"token": unquote(token)}, format="json")
    invitation = make_invitation(personas.org, "invitee@example.test")
    send_invitation_email.call(str(invitation.id))

    subjects = {m.subject for m in mail.outbox}
    assert subjects >= {
        "Confirm your email address",
        "Reset your password",
        "Your email address was changed",
        "You are invited to join Acme",
    }
    followed = email_links.followed[seen:]
    paths = {url.split("?")[0].removeprefix(settings.FRONTEND_URL) for url, _ in followed}
    assert paths >= {"/verify-email", "/reset-password", "/invitations/accept"}
    assert all(status == 200 for _, status in followed), followed
