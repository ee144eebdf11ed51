"""Issue 17 §1, reproduced as written against a running server: API keys are machines.

A live server (``runserver``) on its own seeded database; every step is an HTTP request
from outside the process, as the review's attacker made them:

* an admin key with one scope and a 3-minute expiry tries to mint a successor with no
  scopes and no expiry;
* an admin key tries to change a member's role and to invite ``attacker@…`` as admin;
* an owner-role key tries to delete its organization and to start a billing checkout.

Each is ``403 api_key_not_allowed`` naming the action, and the owner, signed in, sees
that nothing changed. (On 15e4145 these answered 201, 200, 201, 204.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.seeding import DEMO_PASSWORD
from tests.system.support import LiveServer, seeded_server, sign_in

DATABASE = "saas_system_keys"
SERVER_ENV = {"DB_NAME": DATABASE, "THROTTLE_LOGIN": "100000/min"}
ORG = "/api/v1/orgs/acme"


@pytest.fixture(scope="module")
def server():
    with seeded_server(SERVER_ENV, "system-keys-server.log") as live:
        yield live


def _client(server: LiveServer, bearer: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {bearer}"}, timeout=30
    )


def _person(server: LiveServer, email: str) -> httpx.Client:
    return _client(server, sign_in(server.url, email, DEMO_PASSWORD))


def _new_key(person: httpx.Client, **body) -> str:
    response = person.post(f"{ORG}/api-keys/", json={"name": "attacker's", **body})
    assert response.status_code == 201, response.text
    return response.json()["key"]


def _refused_as_a_key(response: httpx.Response, action: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "api_key_not_allowed", error
    assert f"`{action}`" in error["message"], error["message"]


def test_a_leaked_key_cannot_outlive_itself_nor_take_over_the_organization(server):
    owner = _person(server, "owner@acme.test")
    admin = _person(server, "admin@acme.test")
    keys_before = owner.get(f"{ORG}/api-keys/").json()["results"]

    # An admin key with one scope and a 3-minute expiry: no successor.
    expires = (datetime.now(UTC) + timedelta(minutes=3)).isoformat()
    short_lived = _client(server, _new_key(admin, role="admin", scopes=["*"], expires_at=expires))
    _refused_as_a_key(
        short_lived.post(f"{ORG}/api-keys/", json={"name": "successor", "role": "admin"}),
        "api_key.create",
    )

    # An admin key changes no role and invites nobody.
    admin_key = _client(server, _new_key(admin, role="admin"))
    member = next(
        m
        for m in owner.get(f"{ORG}/members/").json()["results"]
        if m["user"]["email"] == "member@acme.test"
    )
    _refused_as_a_key(
        admin_key.patch(f"{ORG}/members/{member['id']}/", json={"role": "admin"}),
        "member.change_role",
    )
    _refused_as_a_key(
        admin_key.post(
            f"{ORG}/invitations/", json={"email": "attacker@evil.test", "role": "admin"}
        ),
        "invitation.create",
    )

    # An owner-role key neither deletes its organization nor starts a checkout.
    owner_key = _client(server, _new_key(owner, role="owner"))
    _refused_as_a_key(owner_key.delete(f"{ORG}/"), "org.delete")
    _refused_as_a_key(
        owner_key.post(f"{ORG}/billing/checkout/", json={"plan": "pro"}), "billing.checkout"
    )

    # What keys may do still works, and nothing above changed anything.
    assert owner_key.get(f"{ORG}/projects/").status_code == 200
    assert owner.get(f"{ORG}/").status_code == 200
    roles_now = {m["id"]: m["role"] for m in owner.get(f"{ORG}/members/").json()["results"]}
    assert roles_now[member["id"]] == "member"
    invited = [i["email"] for i in owner.get(f"{ORG}/invitations/").json()["results"]]
    assert "attacker@evil.test" not in invited
    names = [k["name"] for k in owner.get(f"{ORG}/api-keys/").json()["results"]]
    assert "successor" not in names
    assert len(names) == len(keys_before) + 3  # the three the people made
