"""Issue 17 §3, reproduced as written against a running server: secrets stay where they
were sent.

The review's attacker, holding an admin API key, pointed an OpenAI-compatible
integration's ``base_url`` at a listener of their own and called ``verify/``: the
listener received ``Authorization: Bearer sk-OWNER-ONLY-SECRET…`` (15e4145).

Here a live server may reach 127.0.0.1 only (``OUTBOUND_ALLOWED_NETWORKS``), where the
test runs two listeners: the provider the owner configured and the attacker's. Every
step is an HTTP request from outside the server process:

* the admin key cannot move the destination at all (403 ``api_key_not_allowed``);
* an admin *person* may move it, which clears the stored credentials: ``verify/``
  then sends the attacker's listener no credential, and the owner's secret reaches
  only the owner's provider, before the move.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from accounts.seeding import DEMO_PASSWORD
from tests.integrations.support import receiver
from tests.system.support import LiveServer, seeded_server, sign_in

DATABASE = "saas_system_destinations"
SERVER_ENV = {
    "DB_NAME": DATABASE,
    "THROTTLE_LOGIN": "100000/min",
    # SECURITY: the server may send only to the listeners of this test, on loopback.
    "OUTBOUND_ENABLED": "true",
    "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32",
}
ORG = "/api/v1/orgs/acme"
SECRET = "sk-OWNER-ONLY-SECRET-0123456789abcdef"
MODELS = b'{"object": "list", "data": [{"id": "demo-model", "object": "model"}]}'


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with seeded_server(SERVER_ENV, "system-destinations-server.log") as live:
        yield live


def _client(server: LiveServer, bearer: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {bearer}"}, timeout=30
    )


def _person(server: LiveServer, email: str) -> httpx.Client:
    return _client(server, sign_in(server.url, email, DEMO_PASSWORD))


def _sent_the_secret(requests: list) -> bool:
    return any(SECRET in str(r.headers) or SECRET.encode() in r.body for r in requests)


def test_a_moved_destination_receives_no_stored_credential(server: LiveServer) -> None:
    owner = _person(server, "owner@acme.test")
    admin = _person(server, "admin@acme.test")
    with (
        receiver(lambda _r: (200, MODELS, {"content-type": "application/json"})) as provider,
        receiver(lambda _r: (200, MODELS, {"content-type": "application/json"})) as attacker,
    ):
        created = owner.post(
            f"{ORG}/integrations/",
            json={
                "provider": "openai_compatible",
                "name": "Owner's AI",
                "config": {"base_url": provider.url("/v1"), "model": "demo-model"},
                "credentials": {"api_key": SECRET},
            },
        )
        assert created.status_code == 201, created.text
        integration = f"{ORG}/integrations/{created.json()['id']}/"
        assert owner.post(f"{integration}verify/").status_code == 200
        assert _sent_the_secret(provider.requests)  # the control: verify does send it

        # The review's attacker: an admin key moving the destination.
        made = admin.post(f"{ORG}/api-keys/", json={"name": "leaked", "role": "admin"})
        assert made.status_code == 201, made.text
        key = _client(server, made.json()["key"])
        moved_by_key = key.patch(integration, json={"config": {"base_url": attacker.url("/v1")}})
        assert moved_by_key.status_code == 403, moved_by_key.text
        assert moved_by_key.json()["error"]["code"] == "api_key_not_allowed"
        key.post(f"{integration}verify/")

        # A person may move it; the stored credentials do not follow.
        moved = admin.patch(
            integration, json={"config": {"base_url": attacker.url("/v1"), "model": "m"}}
        )
        assert moved.status_code == 200, moved.text
        admin.post(f"{integration}verify/")
        key.post(f"{integration}verify/")

    assert attacker.requests == [] or not _sent_the_secret(attacker.requests)
    assert not any("authorization" in r.headers for r in attacker.requests)
