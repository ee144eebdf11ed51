"""Issue 17 §2, §4 and §5, reproduced as written against a running server: the pages
that email links open are doors like the API, logs hold no secrets, the live site
sends a strict policy.

A live server (``runserver``, ``DEBUG`` off, default throttle rates) on its own seeded
database writes its mail to files (``EMAIL_URL=filemail://``) so that the server's log
holds only what the server logged. Every step is an HTTP request from outside:

* an invitation link (mailed by the task worker) used as a password oracle for another
  account: the right password of that account gets the wrong-password answer, and the
  page stops answering at the API's sign-in rate (10 a minute per address);
* ``/reset-password`` asked twelve times: at most three mails (the API's per-account
  limit), then 429;
* the reset and invitation tokens, opened on their pages, appear nowhere in the log;
* a live page answers with a Content-Security-Policy and ``nosniff``.

On 15e4145 the page answered every attempt (and told the right password apart), sent
twelve mails, and logged both tokens in its request lines.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accounts.seeding import DEMO_PASSWORD
from tests.system.support import DATA, LiveServer, manage, seeded_server

DATABASE = "saas_system_doors"
MAIL = DATA / "system-doors-mail"
# django-environ drops one leading slash of the path: three make it absolute.
# One trusted proxy: each party below comes from its own address (X-Forwarded-For).
SERVER_ENV = {"DB_NAME": DATABASE, "EMAIL_URL": f"filemail:///{MAIL}", "TRUSTED_PROXY_COUNT": "1"}
ATTACKER, OWNER_ADDRESS, VISITOR = "203.0.113.7", "198.51.100.1", "198.51.100.2"
SIGN_IN_REFUSED = "The email, password or authentication code is wrong."
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    shutil.rmtree(MAIL, ignore_errors=True)
    MAIL.mkdir(parents=True)
    with seeded_server(SERVER_ENV, "system-doors-server.log") as live:
        yield live


def client_from(server: LiveServer, address: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Forwarded-For": address}, timeout=30)


def sign_in(server: LiveServer, email: str, address: str) -> httpx.Response:
    return client_from(server, address).post(
        "/api/v1/auth/token/", json={"email": email, "password": DEMO_PASSWORD}
    )


def person(server: LiveServer, email: str = "owner@acme.test") -> httpx.Client:
    signed_in = sign_in(server, email, OWNER_ADDRESS)
    assert signed_in.status_code == 200, signed_in.text
    client = client_from(server, OWNER_ADDRESS)
    client.headers["Authorization"] = f"Bearer {signed_in.json()['access']}"
    return client


def mails_to(address: str) -> list[str]:
    return [
        text
        for path in sorted(MAIL.iterdir())
        for text in path.read_text().split("\n-------------------------------------------")
        if f"To: {address}" in text
    ]


def token_in(mail: str, path: str) -> str:
    match = re.search(rf"{re.escape(path)}\?token=([^\s&]+)", mail)
    assert match, mail
    return match.group(1)


def page_post(browser: httpx.Client, path: str, form: dict[str, str]) -> httpx.Response:
    """GET the page for its CSRF token and cookie, then POST the form to the bare path."""
    page = browser.get(path)
    assert page.status_code == 200, page.text
    token = CSRF.search(page.text).group(1)
    return browser.post(
        path.split("?")[0],
        data={"csrfmiddlewaretoken": token, **form},
        headers={"Referer": f"{browser.base_url}{path}"},
    )


def test_an_invitation_page_is_no_password_oracle_and_is_throttled(server: LiveServer) -> None:
    owner = person(server)
    invited = owner.post(
        "/api/v1/orgs/acme/invitations/", json={"email": "member@globex.test", "role": "member"}
    )
    assert invited.status_code == 201, invited.text
    manage("db_worker", "--batch", env=SERVER_ENV)  # the task that mints and mails the link
    (mail,) = mails_to("member@globex.test")
    link = f"/invitations/accept?token={token_in(mail, '/invitations/accept')}"
    token = link.split("=", 1)[1]

    attacker = client_from(server, ATTACKER)
    # Another account's right password: the same answer as a wrong one.
    right = page_post(
        attacker,
        link,
        {"action": "signin", "token": token, "email": "owner@acme.test", "password": DEMO_PASSWORD},
    )
    assert right.status_code == 400
    assert SIGN_IN_REFUSED in right.text
    statuses = []
    for n in range(24):
        attempt = page_post(
            attacker,
            link,
            {"action": "signin", "token": token, "email": "owner@acme.test", "password": f"x{n}"},
        )
        statuses.append(attempt.status_code)
        if attempt.status_code == 400:
            assert SIGN_IN_REFUSED in attempt.text
    # The API's rate: ten sign-in attempts a minute per address, the first one included.
    assert statuses[:9] == [400] * 9, statuses
    assert set(statuses[9:]) == {429}, statuses
    # ...counted in the API's bucket: the attacker's address cannot sign in there either.
    assert sign_in(server, "member@globex.test", ATTACKER).status_code == 429

    # The invitee never joined.
    members = owner.get("/api/v1/orgs/acme/members/?search=globex").json()["results"]
    assert members == []

    # The token opened its page and was posted a dozen times: the log never holds it.
    assert token not in Path(server.log_path).read_text()


def test_the_reset_page_sends_no_more_mail_than_the_api_and_logs_no_token(
    server: LiveServer,
) -> None:
    browser = client_from(server, VISITOR)
    statuses = [
        page_post(browser, "/reset-password", {"email": "viewer@acme.test"}).status_code
        for _ in range(12)
    ]
    assert statuses[:3] == [200, 200, 200], statuses
    assert 429 in statuses, statuses
    mails = mails_to("viewer@acme.test")
    assert len(mails) == 3, len(mails)

    token = token_in(mails[-1], "/reset-password")
    opened = browser.get(f"/reset-password?token={token}")
    assert opened.status_code == 200
    log = Path(server.log_path).read_text()
    assert "/reset-password" in log  # the request lines are there...
    assert token not in log  # ...without the token


def test_a_live_page_sends_a_strict_policy(server: LiveServer) -> None:
    # (The owner's account is throttled by now: the first test spent its sign-ins.)
    sites = person(server, "admin@acme.test").get("/api/v1/orgs/acme/sites/").json()["results"]
    live = next(site for site in sites if site.get("live_deployment"))
    page = client_from(server, VISITOR).get(f"/p/acme/{live['slug']}/")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "script-src" not in policy or "'unsafe-inline'" not in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
