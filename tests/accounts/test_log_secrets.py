"""Logs hold no secrets (issue 17 §4: a reset token copied from a request log line
reset the password).

Every flow that mails a link runs with the log captured at DEBUG in both formats;
the token of each mail, and each link used (GET and POST of its page, and the API),
must occur 0 times in what was written. Seen failing without ``redact_secrets``
(the ``request_finished`` line of ``GET /reset-password?token=…`` carried it).
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from config.logs import redact_secrets, redact_text
from tests.helpers import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db

TOKEN_IN = re.compile(r"\?token=([^\s]+)")
NEW_PASSWORD = "a-brand-new-passphrase-42"


def _tokens_mailed(since: int) -> list[str]:
    found = []
    for message in mail.outbox[since:]:
        found += [unquote(m) for m in TOKEN_IN.findall(message.body)]
    return found


def _forms(token: str) -> set[str]:
    """The token as it may be written: raw, URL-encoded, and its signature part alone."""
    forms = {token, quote(token, safe=""), quote_plus(token), quote(token)}
    secret = re.split(r"[.:]", token)[-1]
    if len(secret) >= 10:
        forms.add(secret)
    return forms


def test_no_token_of_any_emailed_link_reaches_the_log(
    personas, log_text, django_capture_on_commit_callbacks
):
    from organizations.tasks import send_invitation_email

    alice = make_user("alice@example.test")
    me = client_for(alice)
    api = APIClient()
    tokens: list[str] = []

    def mailed(action) -> list[str]:
        seen = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            action()
        new = _tokens_mailed(seen)
        assert new, "the flow mailed no link with a token"
        tokens.extend(new)
        return new

    # Password reset asked on the API: the page's GET and POST use it.
    (reset,) = mailed(
        lambda: api.post(
            "/api/v1/auth/password-reset/", {"email": "alice@example.test"}, format="json"
        )
    )
    assert Client().get(f"/reset-password?token={quote(reset)}").status_code == 200
    page_post = Client().post(
        f"/reset-password?token={quote(reset)}", {"token": reset, "password": NEW_PASSWORD}
    )
    assert page_post.status_code == 200
    # Asked on the page: the API's confirm uses it.
    (reset,) = mailed(lambda: Client().post("/reset-password", {"email": "alice@example.test"}))
    confirm = api.post(
        "/api/v1/auth/password-reset/confirm/",
        {"token": reset, "password": PASSWORD},
        format="json",
    )
    assert confirm.status_code == 204, confirm.content

    # Email verification: at sign-up (the page), sent again (the API).
    (verify,) = mailed(
        lambda: api.post(
            "/api/v1/auth/signup/",
            {"email": "new@example.test", "password": PASSWORD},
            format="json",
        )
    )
    assert Client().get(f"/verify-email?token={quote(verify)}").status_code == 200
    assert (
        Client().post(f"/verify-email?token={quote(verify)}", {"token": verify}).status_code == 200
    )
    newcomer = client_for(make_user("late@example.test"))
    (verify,) = mailed(lambda: newcomer.post("/api/v1/me/email/verification/"))
    verified = api.post("/api/v1/auth/verify-email/", {"token": verify}, format="json")
    assert verified.status_code == 200, verified.content

    # Change of address: the link goes to the new address.
    me = client_for(alice)  # the password reset ended the earlier sessions
    (change,) = mailed(
        lambda: me.post(
            "/api/v1/me/email/",
            {"email": "alice@new.test", "password": PASSWORD},
            format="json",
        )
    )
    assert Client().get(f"/verify-email?token={quote(change)}").status_code == 200
    changed = api.post("/api/v1/auth/verify-email/", {"token": change}, format="json")
    assert changed.status_code == 200, changed.content

    # Invitations: made on the API, mailed by the task; the page, then the API.
    owner = personas.client("owner")
    for email in ("one@example.test", "two@example.test"):
        created = owner.post(
            "/api/v1/orgs/acme/invitations/", {"email": email, "role": "member"}, format="json"
        )
        assert created.status_code == 201, created.content
        invitation_id = created.json()["id"]
        (invitation,) = mailed(lambda: send_invitation_email.call(invitation_id))  # noqa: B023
        if email.startswith("one"):
            url = f"/invitations/accept?token={quote(invitation)}"
            assert Client().get(url).status_code == 200
            joined = Client().post(
                url, {"token": invitation, "action": "signup", "password": PASSWORD}
            )
            assert joined.status_code == 200, joined.content.decode()
        else:
            signed_up = api.post(
                "/api/v1/auth/signup/",
                {"email": email, "password": PASSWORD, "invitation_token": invitation},
                format="json",
            )
            assert signed_up.status_code == 201, signed_up.content

    written = log_text.getvalue()
    assert len(tokens) == 7
    leaks = {form for token in tokens for form in _forms(token) if form in written}
    assert leaks == set()
    assert "GET /reset-password?token=[REDACTED]" in written  # the log did capture requests
    assert "POST /verify-email" in written and "GET /invitations/accept" in written


def test_the_processor_redacts_headers_cookies_jwts_and_bodies_of_token_routes():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWhlcmU"
    line = redact_secrets(
        None,
        "info",
        {
            "event": f"GET /x?api_key=k3y-v4lue&page=2 Authorization: Bearer {jwt}",
            "request": "POST /api/v1/auth/token/",
            "body": '{"email": "a@example.test", "password": "hunter2-hunter2"}',
            "headers": {"Cookie": "sessionid=s3ss10n", "Accept": "*/*", "X-Code": 1},
            "meta": "{'HTTP_AUTHORIZATION': 'Bearer abcdefgh12345678', 'PATH_INFO': '/'}",
            "code": 400,
        },
    )

    text = repr(line)
    for secret in ("k3y-v4lue", jwt, "hunter2", "s3ss10n", "abcdefgh12345678"):
        assert secret not in text
    assert line["code"] == 400 and "page=2" in line["event"]
    assert line["headers"]["Accept"] == "*/*" and "'PATH_INFO': '/'" in line["meta"]
    assert (
        redact_text("/verify-email?token=a%3Ab&next=/x") == "/verify-email?token=[REDACTED]&next=/x"
    )
