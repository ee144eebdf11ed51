"""A streamed AI reply as a real server runs it: the request's transaction commits before
the stream is read, so the reply, its token usage and its audit are written afterwards
in a transaction of their own (``transaction=True``: nothing here hides inside the
test's transaction).

* its tokens are reserved before anything is streamed (402 over the allowance, nothing
  sent to the provider, nothing written) and settled to the provider's count;
* a provider failure gives the reservation back;
* through an API key the late writes still claim the key: the audit names it.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from billing.models import UsageCounter
from organizations.tenancy import service_context
from projects.models import Generation, Message
from tests.billing.test_quotas import _override
from tests.integrations import test_ai_gateway as gateway
from tests.integrations.test_ai_gateway import _org_integration, _reply_url

# The fake provider and the conversation of the gateway's tests.
provider = gateway.provider
conversation = gateway.conversation

pytestmark = pytest.mark.django_db(transaction=True)

# The fake provider's streamed usage (tests/integrations/test_ai_gateway.py fake_openai).
STREAMED_TOKENS = 11 + 7


def _stream(client, project, chat, content="stream me"):
    response = client.post(
        _reply_url(project, chat), {"content": content, "stream": True}, format="json"
    )
    text = b"".join(response.streaming_content).decode() if response.streaming else ""
    return response, text


def _ai_tokens_used(org) -> int | None:
    with service_context(reason="test"):
        row = UsageCounter.objects.filter(organization_id=org.id, metric="ai_tokens").first()
    return row.used if row else None


def test_a_streamed_reply_s_tokens_are_settled_to_the_provider_s_count(
    personas, provider, conversation
):
    project, chat = conversation
    _org_integration(personas, provider)

    response, text = _stream(personas.client("member"), project, chat)

    assert response.status_code == 200 and "event: done" in text, text
    assert _ai_tokens_used(personas.org) == STREAMED_TOKENS  # no reservation left over
    with service_context(reason="test"):
        assert Generation.objects.get(conversation=chat).status == "succeeded"


def test_a_streamed_reply_over_the_allowance_is_a_402_before_anything_streams(
    personas, provider, conversation
):
    project, chat = conversation
    _org_integration(personas, provider)
    _override(personas.org, "ai_tokens", 10)

    response, _text = _stream(personas.client("member"), project, chat)

    assert response.status_code == 402, response.content
    assert response.json()["error"]["details"]["metric"] == "ai_tokens"
    assert provider.requests == []
    with service_context(reason="test"):  # the request's writes were rolled back
        assert not Message.objects.filter(conversation=chat).exists()
        assert not Generation.objects.filter(conversation=chat).exists()


def test_a_failed_streamed_reply_gives_its_reservation_back(personas, provider, conversation):
    project, chat = conversation
    _org_integration(personas, provider, key="sk-refused-by-the-fake-provider")

    response, text = _stream(personas.client("member"), project, chat)

    assert response.status_code == 200 and "event: error" in text
    assert _ai_tokens_used(personas.org) == 0
    with service_context(reason="test"):
        assert Generation.objects.get(conversation=chat).status == "failed"


def _key_client(personas) -> tuple[APIClient, dict]:
    created = personas.client("admin").post(
        "/api/v1/orgs/acme/api-keys/", {"name": "bot", "role": "member"}, format="json"
    )
    assert created.status_code == 201, created.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.json()['key']}")
    return client, created.json()


def test_a_streamed_reply_through_an_api_key_is_recorded_as_the_key(
    personas, provider, conversation
):
    project, chat = conversation
    _org_integration(personas, provider)
    client, key = _key_client(personas)

    response, text = _stream(client, project, chat)

    assert response.status_code == 200 and "event: done" in text, text
    with service_context(reason="test"):
        generation = Generation.objects.get(conversation=chat)
        events = AuditEvent.objects.filter(target_id=str(generation.id)).order_by("sequence")
        labels = list(events.values_list("action", "actor_type", "actor_label"))
    assert generation.status == "succeeded"
    as_key = ("api_key", f"api_key:{key['id']}")
    assert labels == [("generation.created", *as_key), ("generation.finished", *as_key)]


def test_a_key_revoked_while_its_reply_streams_writes_no_reply(personas, provider, conversation):
    """The late writes claim the key itself, not its creator: once it is revoked they are
    refused, and the system closes the generation as failed."""
    project, chat = conversation
    _org_integration(personas, provider)
    client, key = _key_client(personas)
    response = client.post(
        _reply_url(project, chat), {"content": "hi", "stream": True}, format="json"
    )
    assert response.status_code == 200
    chunks = iter(response.streaming_content)
    first = next(chunks).decode()  # the first piece has streamed: the request committed
    assert first.startswith("event: delta")
    revoked = personas.client("admin").delete(f"/api/v1/orgs/acme/api-keys/{key['id']}/")
    assert revoked.status_code == 204

    text = b"".join(chunks).decode()

    assert "event: error" in text and "event: done" not in text, text
    with service_context(reason="test"):
        generation = Generation.objects.get(conversation=chat)
        replies = Message.objects.filter(conversation=chat, role="assistant").count()
    assert (generation.status, replies) == ("failed", 0)


def test_a_client_that_leaves_mid_reply_leaves_a_failed_generation_and_its_tokens_counted(
    personas, provider, conversation, settings
):
    """Closing the response is what the WSGI server does when the client goes away: the
    generation must not stay ``running``, and the reserved tokens stay counted (the
    provider has likely spent them)."""
    project, chat = conversation
    _org_integration(personas, provider)
    response = personas.client("member").post(
        _reply_url(project, chat), {"content": "bye", "stream": True}, format="json"
    )
    chunks = iter(response.streaming_content)
    assert next(chunks).decode().startswith("event: delta")

    response.close()

    with service_context(reason="test"):
        generation = Generation.objects.get(conversation=chat)
        replies = Message.objects.filter(conversation=chat, role="assistant").count()
    assert (generation.status, replies) == ("failed", 0)
    assert generation.error == "The client disconnected before the reply ended."
    # "bye" is under four characters: the reservation is the reply's allowance alone.
    assert _ai_tokens_used(personas.org) == settings.AI_REPLY_TOKENS_RESERVED
