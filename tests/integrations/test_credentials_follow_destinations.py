"""Secrets stay where they were sent (issue 17 §3).

Reproduced by the review: an admin pointed an OpenAI-compatible integration's
``base_url`` at a listener of their own and called ``verify/``; the listener received
the owner's ``Authorization: Bearer sk-…``. Here every adapter that sends a stored
credential (verify for each provider, AI replies plain and streamed, org and own
keys, Netlify and Vercel deploys, the HTTP JSON sync) is pointed, through the API,
from listener ``old`` to listener ``new`` (both on 127.0.0.1, recording every
request's headers and body):

* without new credentials, ``new`` never receives the stored secret (in most
  adapters it receives nothing: the call fails cleanly, a 4xx or a failed job);
* with new credentials in the same request, only the new ones arrive.

The audit event says what moved and that the credentials were cleared or replaced,
never a value. On 15e4145's code every "no credential" assertion fails: the stored
secret followed the destination.
"""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from integrations import crypto, sync
from integrations.destinations import DESTINATION_FIELDS, destination_changes
from integrations.models import Integration, IntegrationJob, Provider, UserIntegration
from organizations.tenancy import service_context
from sites.models import Deployment
from sites.services import deployments as deployment_services
from sites.services.sites import site_deployment_integration_set
from tests.integrations.fakes import fake_api
from tests.integrations.support import Received, receiver
from tests.projects.support import make_conversation, make_project, project_url
from tests.sites.support import make_page, make_site, publish

pytestmark = pytest.mark.django_db

OLD = "sk-OWNER-ONLY-SECRET-0123456789"
NEW = "sk-brought-along-9876543210ab"


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.INTEGRATIONS_PROVIDER_POLL_INTERVAL_SECONDS = 0


def _answer(r: Received) -> tuple[int, bytes, dict[str, str]]:
    """Any OpenAI-, provider- or source-like question, answered 200 whatever the key."""
    if r.path.endswith("/chat/completions"):
        asked = json.loads(r.body)
        if asked.get("stream"):
            chunk = {"choices": [{"delta": {"content": "hi"}}]}
            usage = {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
            events = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n"
            return 200, events.encode(), {"content-type": "text/event-stream"}
        body = {
            "model": "m",
            "choices": [{"message": {"content": "hi"}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }
        return 200, json.dumps(body).encode(), {"content-type": "application/json"}
    return 200, b'{"records": [], "data": []}', {"content-type": "application/json"}


@pytest.fixture
def old():
    with receiver(_answer) as server:
        yield server


@pytest.fixture
def new():
    with receiver(_answer) as server:
        yield server


def _secrets_seen(server) -> list[str]:
    """Which of the two secrets reached ``server``, anywhere in a request."""
    seen = []
    for r in server.requests:
        text = json.dumps(r.headers) + r.body.decode(errors="replace") + r.path
        seen += [name for name, secret in (("OLD", OLD), ("NEW", NEW)) if secret in text]
    return seen


def _create(personas, provider: str, config: dict, credentials: dict) -> dict:
    response = personas.client("owner").post(
        "/api/v1/orgs/acme/integrations/",
        {"provider": provider, "name": provider, "config": config, "credentials": credentials},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def _patch(personas, integration: dict, **body) -> dict:
    response = personas.client("admin").patch(
        f"/api/v1/orgs/acme/integrations/{integration['id']}/", body, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _stored(integration_id) -> dict:
    with service_context(reason="test read"):
        row = Integration.objects.get(id=integration_id)
    return crypto.decrypt_json(row.credentials_encrypted)


def _last_update(integration_id) -> dict:
    with service_context(reason="test read"):
        return (
            AuditEvent.objects.filter(action="integration.updated", target_id=str(integration_id))
            .latest("sequence")
            .changes
        )


# --- the rule, declared once ------------------------------------------------------------


def test_every_provider_declares_where_its_credentials_go():
    assert set(DESTINATION_FIELDS) == set(Provider.values)
    for provider in Provider.values:  # a URL key moves every provider's destination
        for key in ("base_url", "url", "api_url"):
            assert destination_changes(
                provider_before=provider,
                config_before={},
                provider_after=provider,
                config_after={key: "https://elsewhere.example"},
            ) == [key]


def test_another_provider_is_another_destination_even_with_the_same_config():
    assert destination_changes(
        provider_before="openai_compatible",
        config_before={"base_url": "https://a.example"},
        provider_after="github",
        config_after={"base_url": "https://a.example"},
    ) == ["provider"]


def test_a_trailing_slash_or_a_non_destination_key_moves_nothing():
    assert not destination_changes(
        provider_before="openai_compatible",
        config_before={"base_url": "https://a.example/v1", "model": "x"},
        provider_after="openai_compatible",
        config_after={"base_url": "https://a.example/v1/", "model": "y"},
    )


def test_moving_the_destination_clears_the_credentials_and_the_audit_says_so(personas, old, new):
    created = _create(
        personas, "openai_compatible", {"base_url": old.url("/v1"), "model": "m"}, {"api_key": OLD}
    )

    kept = _patch(personas, created, config={"base_url": old.url("/v1"), "model": "m2"})
    assert kept["credentials_hint"] == created["credentials_hint"] != ""
    assert _stored(created["id"]) == {"api_key": OLD}

    moved = _patch(personas, created, config={"base_url": new.url("/v1"), "model": "m2"})

    assert moved["credentials_hint"] == ""
    assert _stored(created["id"]) == {}
    changes = _last_update(created["id"])
    assert changes["destination_changed"] == ["base_url"]
    assert (changes["credentials_action"], changes["credentials"]) == ("cleared", [])
    assert OLD not in json.dumps(changes)


def test_new_credentials_with_the_new_destination_replace_the_old_ones(personas, old, new):
    created = _create(personas, "netlify", {"site_id": "a"}, {"token": OLD})
    moved = _patch(personas, created, config={"site_id": "b"}, credentials={"token": NEW})
    assert moved["credentials_hint"] == crypto.hint(NEW)
    assert _stored(created["id"]) == {"token": NEW}
    changes = _last_update(created["id"])
    assert changes["destination_changed"] == ["site_id"]
    assert (changes["credentials_action"], changes["credentials"]) == ("replaced", ["token"])
    assert OLD not in json.dumps(changes) and NEW not in json.dumps(changes)


# --- verify, for every provider -----------------------------------------------------------

VERIFIED = [
    ("openai_compatible", "base_url", "/v1", "api_key"),
    ("github", "base_url", "", "token"),
    ("netlify", "base_url", "", "token"),
    ("vercel", "base_url", "", "token"),
    ("stripe", "base_url", "", "secret_key"),
    ("http_json", "url", "/records", "token"),
]


@pytest.mark.parametrize(("provider", "key", "path", "credential"), VERIFIED)
def test_verify_sends_no_stored_credential_to_a_new_destination(
    personas, old, new, provider, key, path, credential
):
    created = _create(personas, provider, {key: old.url(path)}, {credential: OLD})
    _patch(personas, created, config={key: new.url(path)})

    response = personas.client("admin").post(
        f"/api/v1/orgs/acme/integrations/{created['id']}/verify/", format="json"
    )

    if provider == "http_json":  # a source's token is optional: asked without one
        assert response.status_code == 200, response.content
        assert [r.headers.get("authorization") for r in new.requests] == [None]
    else:  # nothing to verify with: a clean 400 and no request at all
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "verify_not_supported"
        assert new.requests == []
    assert _secrets_seen(new) == [] and old.requests == []


@pytest.mark.parametrize(("provider", "key", "path", "credential"), VERIFIED)
def test_verify_sends_only_the_new_credentials_brought_with_the_new_destination(
    personas, old, new, provider, key, path, credential
):
    created = _create(personas, provider, {key: old.url(path)}, {credential: OLD})
    _patch(personas, created, config={key: new.url(path)}, credentials={credential: NEW})

    response = personas.client("admin").post(
        f"/api/v1/orgs/acme/integrations/{created['id']}/verify/", format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    assert [r.headers.get("authorization") for r in new.requests] == [f"Bearer {NEW}"]
    assert _secrets_seen(new) == ["NEW"] and old.requests == []


# --- AI replies: the organization's key and the caller's own ------------------------------


@pytest.fixture
def chat(personas):
    project = make_project(personas.org, personas.users["owner"], "chatty")
    return project_url(project, f"conversations/{make_conversation(project).id}/reply/")


def _reply(personas, chat, **body):
    response = personas.client("member").post(chat, {"content": "hello", **body}, format="json")
    if body.get("stream") and response.status_code == 200:
        return response, b"".join(response.streaming_content).decode()
    return response, response.content.decode()


@pytest.mark.parametrize("stream", [False, True])
def test_an_ai_reply_sends_no_stored_key_to_a_new_base_url(personas, old, new, chat, stream):
    created = _create(
        personas, "openai_compatible", {"base_url": old.url("/v1"), "model": "m"}, {"api_key": OLD}
    )
    _patch(personas, created, config={"base_url": new.url("/v1"), "model": "m"})

    response, _text = _reply(personas, chat, stream=stream)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "no_ai_integration"
    assert new.requests == [] and old.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_an_ai_reply_sends_only_the_key_brought_with_the_new_base_url(
    personas, old, new, chat, stream
):
    created = _create(
        personas, "openai_compatible", {"base_url": old.url("/v1"), "model": "m"}, {"api_key": OLD}
    )
    _patch(
        personas,
        created,
        config={"base_url": new.url("/v1"), "model": "m"},
        credentials={"api_key": NEW},
    )

    response, text = _reply(personas, chat, stream=stream)

    assert response.status_code in (200, 201), text
    assert "event: error" not in text
    assert [r.headers.get("authorization") for r in new.requests] == [f"Bearer {NEW}"]
    assert _secrets_seen(new) == ["NEW"] and old.requests == []


def test_your_own_key_does_not_follow_a_new_base_url_either(personas, old, new, chat):
    url = "/api/v1/orgs/acme/user-integrations/mine/"
    member = personas.client("member")
    first = {
        "provider": "openai_compatible",
        "config": {"base_url": old.url("/v1")},
        "credentials": {"api_key": OLD},
    }
    assert member.put(url, first, format="json").status_code == 201

    moved = member.put(url, {"config": {"base_url": new.url("/v1")}}, format="json")

    assert moved.status_code == 200, moved.content
    assert moved.json()["credentials_hint"] == ""
    with service_context(reason="test read"):
        row = UserIntegration.objects.get(name="mine")
        event = AuditEvent.objects.filter(action="user_integration.updated").latest("sequence")
    assert crypto.decrypt_json(row.credentials_encrypted) == {}
    assert event.changes["credentials_action"] == "cleared"
    response, _text = _reply(personas, chat, credentials="user", integration="mine")
    assert response.status_code == 400
    assert new.requests == [] and old.requests == []

    again = {"config": {"base_url": new.url("/v1")}, "credentials": {"api_key": NEW}}
    assert member.put(url, again, format="json").status_code == 200
    response, _text = _reply(personas, chat, credentials="user", integration="mine")
    assert response.status_code == 201, response.content
    assert _secrets_seen(new) == ["NEW"] and old.requests == []


# --- deployment providers -------------------------------------------------------------------


def _deploy_through(personas, integration_id) -> Deployment:
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    with service_context(reason="test fixture"):
        integration = Integration.objects.get(id=integration_id)
        site_deployment_integration_set(actor=owner, site=site, integration=integration)
    # On an external host publishing leaves the change pending (no automatic deployment).
    publish(site, make_page(site, owner, path="/", body="Home"), owner)
    with service_context(reason="test fixture"):
        site.refresh_from_db()
        deployment = deployment_services.deployment_create(
            actor=personas.users["admin"], site=site, environment="production"
        )
    deployment_services.run_build(str(deployment.id))
    with service_context(reason="test read"):
        return Deployment.objects.get(id=deployment.id)


def _provider_answer(r: Received) -> tuple[int, dict]:
    if r.method == "POST" and "/deploys" in r.path:
        return 200, {"id": "d1", "required": []}
    if r.method == "POST":
        return 200, {"id": "d1", "url": "x.vercel.app", "readyState": "READY"}
    return 200, {"id": "d1", "state": "ready", "readyState": "READY", "url": "https://x.test"}


@pytest.mark.parametrize(
    ("provider", "config", "moved"),
    [
        ("netlify", {"site_id": "site-a"}, {"base_url": None}),
        ("netlify", {"site_id": "site-a"}, {"site_id": "site-b"}),
        ("vercel", {"project": "p"}, {"base_url": None}),
        ("vercel", {"project": "p"}, {"team_id": "team-b"}),
    ],
)
def test_a_deploy_sends_no_stored_token_after_the_destination_moved(
    personas, provider, config, moved
):
    with fake_api(_provider_answer) as old_api, fake_api(_provider_answer) as new_api:
        base = {"base_url": old_api.base, **config}
        created = _create(personas, provider, base, {"token": OLD})
        changed = {
            **base,
            **{k: (new_api.base if v is None else v) for k, v in moved.items()},
        }
        _patch(personas, created, config=changed)

        deployment = _deploy_through(personas, created["id"])

    assert deployment.status == "failed"
    assert deployment.error == f"The {Provider(provider).label} integration has no token."
    assert new_api.requests == [] and old_api.requests == []


@pytest.mark.parametrize("provider", ["netlify", "vercel"])
def test_a_deploy_sends_only_the_token_brought_with_the_new_base_url(personas, provider):
    with fake_api(_provider_answer) as old_api, fake_api(_provider_answer) as new_api:
        config = {"site_id": "site-a"} if provider == "netlify" else {}
        created = _create(personas, provider, {"base_url": old_api.base, **config}, {"token": OLD})
        _patch(
            personas,
            created,
            config={"base_url": new_api.base, **config},
            credentials={"token": NEW},
        )

        deployment = _deploy_through(personas, created["id"])

    assert deployment.status == "ready", deployment.error
    assert old_api.requests == []
    assert {r.headers.get("authorization") for r in new_api.requests} == {f"Bearer {NEW}"}


# --- the HTTP JSON sync -------------------------------------------------------------------------


def _run_sync(personas, integration_id) -> IntegrationJob:
    started = personas.client("admin").post(
        f"/api/v1/orgs/acme/integrations/{integration_id}/jobs/", {"kind": "sync"}, format="json"
    )
    assert started.status_code == 202, started.content
    sync.run_job(started.json()["id"])
    with service_context(reason="test read"):
        return IntegrationJob.objects.get(id=started.json()["id"])


def test_a_sync_sends_no_stored_token_to_a_new_source_url(personas, old, new):
    created = _create(personas, "http_json", {"url": old.url("/records")}, {"token": OLD})
    _patch(personas, created, config={"url": new.url("/records")})

    job = _run_sync(personas, created["id"])

    assert job.status == "succeeded", job.error
    assert [r.headers.get("authorization") for r in new.requests] == [None]
    assert _secrets_seen(new) == [] and old.requests == []


class PagedSource:
    """Page 1 names a next page: on another origin, or relative to this one."""

    def __init__(self, next_link: str) -> None:
        self.next_link = next_link

    def respond(self, r: Received) -> tuple[int, dict]:
        if r.path.startswith("/records/2"):
            return 200, {"records": [{"id": "b"}]}
        return 200, {"records": [{"id": "a"}], "next": self.next_link}


def test_a_next_link_to_another_origin_fails_the_job_and_gets_no_request(personas):
    elsewhere = PagedSource("")
    with fake_api(elsewhere.respond) as other:
        source = PagedSource(f"{other.base}/records/2")
        with fake_api(source.respond) as api:
            created = _create(personas, "http_json", {"url": f"{api.base}/records"}, {"token": OLD})
            job = _run_sync(personas, created["id"])

    assert job.status == "failed"
    assert "another origin than config.url" in job.error
    assert OLD not in job.error
    assert other.requests == []  # not even without the token
    assert [r.headers.get("authorization") for r in api.requests] == [f"Bearer {OLD}"]
    assert job.records_written == 1  # the first page, from the source's own origin


@pytest.mark.parametrize("link", ["/records/2?page=2", "2?page=2"])
def test_a_relative_next_link_stays_on_the_source_and_keeps_its_token(personas, link):
    source = PagedSource(link)
    with fake_api(source.respond) as api:
        created = _create(personas, "http_json", {"url": f"{api.base}/records/"}, {"token": OLD})
        job = _run_sync(personas, created["id"])

    assert job.status == "succeeded", job.error
    assert job.records_written == 2
    assert api.paths("GET") == ["/records/", "/records/2?page=2"]
    assert {r.headers.get("authorization") for r in api.requests} == {f"Bearer {OLD}"}
