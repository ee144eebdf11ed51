"""The AI provider gateway against a fake OpenAI-compatible server on 127.0.0.1
(acceptance 3): a conversation gets a real reply with token usage recorded on the
generation, streamed as server-sent events when asked; a bad key gives a clean error
with neither the key nor the provider's body."""

from __future__ import annotations

import json

import pytest

from integrations import crypto
from integrations.models import Integration, UserIntegration
from organizations.tenancy import service_context
from projects.models import Generation, Message
from tests.integrations.support import Received, receiver
from tests.projects.support import make_conversation, make_project, project_url

pytestmark = pytest.mark.django_db

ORG_KEY = "sk-org-key-0123456789abcdef"
USER_KEY = "sk-own-key-fedcba9876543210"
PROVIDER_BODY_SECRET = "provider-internal-trace-7f3a"


def fake_openai(received: Received) -> tuple[int, bytes, dict[str, str]]:
    """Answers like the OpenAI chat completions API; 401 unless a known key is sent."""
    auth = received.headers.get("authorization", "")
    if auth not in (f"Bearer {ORG_KEY}", f"Bearer {USER_KEY}"):
        body = {
            "error": {
                "message": f"Incorrect API key provided: {auth[7:]} ({PROVIDER_BODY_SECRET})",
                "type": "invalid_request_error",
            }
        }
        return 401, json.dumps(body).encode(), {"content-type": "application/json"}
    request = json.loads(received.body)
    last = request["messages"][-1]["content"]
    who = "org" if ORG_KEY in auth else "user"
    text = f"echo[{who}]: {last}"
    if request.get("stream"):
        events = []
        for piece in (text[:5], text[5:]):
            chunk = {"model": request["model"], "choices": [{"delta": {"content": piece}}]}
            events.append(f"data: {json.dumps(chunk)}\n\n")
        usage = {"prompt_tokens": 11, "completion_tokens": 7}
        events.append(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n")
        events.append("data: [DONE]\n\n")
        return 200, "".join(events).encode(), {"content-type": "text/event-stream"}
    body = {
        "id": "chatcmpl-1",
        "model": request["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }
    return 200, json.dumps(body).encode(), {"content-type": "application/json"}


@pytest.fixture
def provider(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with receiver(fake_openai) as server:
        yield server


@pytest.fixture
def conversation(personas):
    project = make_project(personas.org, personas.users["owner"], "chatty")
    return project, make_conversation(project, "Chat")


def _org_integration(personas, server, key=ORG_KEY):
    with service_context(reason="test fixture"):
        return Integration.objects.create(
            organization=personas.org,
            provider="openai_compatible",
            name="AI",
            config={"base_url": server.url("/v1"), "model": "fake-1"},
            credentials_encrypted=crypto.encrypt_json({"api_key": key}),
        )


def _reply_url(project, conversation):
    return project_url(project, f"conversations/{conversation.id}/reply/")


def test_a_conversation_gets_a_reply_with_token_usage_on_the_generation(
    personas, provider, conversation
):
    project, chat = conversation
    _org_integration(personas, provider)

    response = personas.client("member").post(
        _reply_url(project, chat), {"content": "hello"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["assistant_message"]["content"] == "echo[org]: hello"
    assert body["assistant_message"]["prompt_tokens"] == 12
    assert body["generation"]["status"] == "succeeded"
    assert (body["generation"]["tokens_in"], body["generation"]["tokens_out"]) == (12, 5)
    sent = json.loads(provider.requests[0].body)
    assert sent["model"] == "fake-1"
    assert sent["messages"][-1] == {"role": "user", "content": "hello"}
    assert provider.requests[0].path == "/v1/chat/completions"
    with service_context(reason="test"):
        assert Message.objects.filter(conversation=chat).count() == 2
        generation = Generation.objects.get(conversation=chat)
    assert generation.tokens_in == 12 and generation.output == "echo[org]: hello"


def test_a_reply_can_use_the_callers_own_key(personas, provider, conversation):
    project, chat = conversation
    _org_integration(personas, provider, key="sk-wrong-org-key-000000")
    with service_context(reason="test fixture"):
        UserIntegration.objects.create(
            organization=personas.org,
            user=personas.users["member"],
            provider="openai_compatible",
            name="mine",
            config={"base_url": provider.url("/v1"), "model": "fake-own"},
            credentials_encrypted=crypto.encrypt_json({"api_key": USER_KEY}),
        )
    response = personas.client("member").post(
        _reply_url(project, chat), {"content": "hi", "credentials": "user"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["assistant_message"]["content"] == "echo[user]: hi"
    # the admin cannot borrow the member's own key
    response = personas.client("admin").post(
        _reply_url(project, chat), {"content": "hi", "credentials": "user"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_ai_integration"


def test_a_bad_key_gives_a_clean_error(personas, provider, conversation):
    project, chat = conversation
    bad_key = "sk-bad-key-should-never-leak-42"
    _org_integration(personas, provider, key=bad_key)

    response = personas.client("member").post(
        _reply_url(project, chat), {"content": "hello"}, format="json"
    )

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "provider_error"
    text = response.content.decode()
    assert bad_key not in text and PROVIDER_BODY_SECRET not in text
    assert "Incorrect API key" not in text
    assert "401" in error["message"]


def test_a_streamed_reply_arrives_as_server_sent_events(personas, provider, conversation):
    project, chat = conversation
    _org_integration(personas, provider)

    response = personas.client("member").post(
        _reply_url(project, chat), {"content": "stream me", "stream": True}, format="json"
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    text = b"".join(response.streaming_content).decode()
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1][6:]))
        for block in text.strip().split("\n\n")
    ]
    deltas = [data["content"] for name, data in events if name == "delta"]
    assert "".join(deltas) == "echo[org]: stream me"
    name, done = events[-1]
    assert name == "done"
    assert done["generation"]["status"] == "succeeded"
    assert (done["generation"]["tokens_in"], done["generation"]["tokens_out"]) == (11, 7)
    assert json.loads(provider.requests[0].body)["stream"] is True


def test_a_streamed_reply_with_a_bad_key_ends_with_a_clean_error_event(
    personas, provider, conversation
):
    project, chat = conversation
    bad_key = "sk-bad-key-should-never-leak-42"
    _org_integration(personas, provider, key=bad_key)
    response = personas.client("member").post(
        _reply_url(project, chat), {"content": "x", "stream": True}, format="json"
    )
    text = b"".join(response.streaming_content).decode()
    assert "event: error" in text and "provider_error" in text
    assert bad_key not in text and PROVIDER_BODY_SECRET not in text
    with service_context(reason="test"):
        generation = Generation.objects.get(conversation=chat)
    assert generation.status == "failed"
    assert bad_key not in generation.error and PROVIDER_BODY_SECRET not in generation.error


def test_a_queued_generation_runs_through_the_provider(personas, provider, conversation):
    project, _chat = conversation
    _org_integration(personas, provider)
    created = personas.client("member").post(
        project_url(project, "generations/"), {"prompt": "write", "model": "fake-2"}, format="json"
    )
    assert created.status_code == 201
    run = personas.client("member").post(
        project_url(project, f"generations/{created.json()['id']}/run/"), {}, format="json"
    )
    assert run.status_code == 200, run.content
    body = run.json()
    assert body["status"] == "succeeded" and body["output"] == "echo[org]: write"
    assert (body["tokens_in"], body["tokens_out"]) == (12, 5)
    assert json.loads(provider.requests[0].body)["model"] == "fake-2"


def test_without_an_integration_the_reply_is_a_clear_400(personas, conversation):
    project, chat = conversation
    response = personas.client("member").post(
        _reply_url(project, chat), {"content": "hello"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_ai_integration"


def test_a_reply_s_tokens_are_counted_as_the_provider_reported_them(
    personas, provider, conversation
):
    from billing.models import UsageCounter

    project, chat = conversation
    _org_integration(personas, provider)
    personas.client("member").post(_reply_url(project, chat), {"content": "hi"}, format="json")
    with service_context(reason="test"):
        counter = UsageCounter.objects.get(organization_id=personas.org.id, metric="ai_tokens")
    assert counter.used == 17  # the fake provider's prompt 12 + completion 5: no reservation left


def test_a_reply_over_the_month_s_token_allowance_is_a_402_and_nothing_is_sent(
    personas, provider, conversation
):
    from tests.billing.test_quotas import _override

    project, chat = conversation
    _org_integration(personas, provider)
    _override(personas.org, "ai_tokens", 10)
    response = personas.client("member").post(
        _reply_url(project, chat), {"content": "hi"}, format="json"
    )
    assert response.status_code == 402, response.content
    assert response.json()["error"]["details"]["metric"] == "ai_tokens"
    assert provider.requests == []
