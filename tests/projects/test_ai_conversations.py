"""Conversations and their messages, through the API."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from organizations.tenancy import service_context
from projects.models import Conversation, Message, Project
from tests.projects.support import (
    audit_actions,
    count,
    error_code,
    make_conversation,
    make_project,
    project_url,
)

pytestmark = pytest.mark.django_db


def conversations_url(project, rest=""):
    return project_url(project, f"conversations/{rest}")


def test_a_member_starts_a_conversation(personas, project):
    response = personas.client("member").post(
        conversations_url(project), {"title": "Refactor ideas"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["title"] == "Refactor ideas"
    assert body["message_count"] == 0
    assert body["created_by"]["email"] == "member@acme.test"
    assert count(Conversation, project=project) == 1


def test_a_viewer_cannot_start_a_conversation(personas, project):
    response = personas.client("viewer").post(conversations_url(project), {}, format="json")

    assert response.status_code == 403
    assert count(Conversation, project=project) == 0


def test_a_viewer_reads_conversations(personas, project):
    make_conversation(project, "Read me")

    response = personas.client("viewer").get(conversations_url(project))

    assert response.status_code == 200
    assert [c["title"] for c in response.json()["results"]] == ["Read me"]


def test_a_member_of_another_org_gets_404(personas, project):
    conversation = make_conversation(project, messages=1)

    for url in (
        conversations_url(project),
        conversations_url(project, f"{conversation.id}/"),
        conversations_url(project, f"{conversation.id}/messages/"),
    ):
        assert personas.client("outsider").get(url).status_code == 404


def test_conversations_are_listed_newest_first_with_their_message_count(personas, project):
    make_conversation(project, "older", messages=2)
    make_conversation(project, "newer", messages=1)

    results = personas.client("member").get(conversations_url(project)).json()["results"]

    assert [(c["title"], c["message_count"]) for c in results] == [("newer", 1), ("older", 2)]


def test_renaming_a_conversation(personas, project):
    conversation = make_conversation(project, "draft")

    response = personas.client("member").patch(
        conversations_url(project, f"{conversation.id}/"), {"title": "final"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["title"] == "final"


def test_deleting_a_conversation_deletes_its_messages_and_is_audited(personas, project):
    conversation = make_conversation(project, "bye", messages=3)

    response = personas.client("member").delete(conversations_url(project, f"{conversation.id}/"))

    assert response.status_code == 204
    assert count(Conversation, id=conversation.id) == 0
    assert count(Message, conversation_id=conversation.id) == 0
    assert audit_actions(personas.org, "conversation.") == ["conversation.deleted"]


def test_a_viewer_cannot_delete_a_conversation(personas, project):
    conversation = make_conversation(project)

    response = personas.client("viewer").delete(conversations_url(project, f"{conversation.id}/"))

    assert response.status_code == 403
    assert count(Conversation, id=conversation.id) == 1


def test_a_conversation_is_not_found_through_another_project(personas, project):
    other = make_project(personas.org, personas.users["owner"], "other")
    conversation = make_conversation(other)

    response = personas.client("member").get(conversations_url(project, f"{conversation.id}/"))

    assert response.status_code == 404


def test_messages_are_added_and_listed_oldest_first(personas, project):
    conversation = make_conversation(project)
    client = personas.client("member")
    url = conversations_url(project, f"{conversation.id}/messages/")

    first = client.post(url, {"role": "user", "content": "Hi"}, format="json")
    second = client.post(
        url,
        {
            "role": "assistant",
            "content": "Hello!",
            "model": "gpt-test",
            "prompt_tokens": 3,
            "completion_tokens": 2,
        },
        format="json",
    )

    assert (first.status_code, second.status_code) == (201, 201)
    results = client.get(url).json()["results"]
    assert [(m["role"], m["content"]) for m in results] == [("user", "Hi"), ("assistant", "Hello!")]
    assert results[1]["model"] == "gpt-test"
    assert (results[1]["prompt_tokens"], results[1]["completion_tokens"]) == (3, 2)
    assert results[0]["author"]["email"] == "member@acme.test"


def test_a_message_with_an_unknown_role_is_a_400(personas, project):
    conversation = make_conversation(project)

    response = personas.client("member").post(
        conversations_url(project, f"{conversation.id}/messages/"),
        {"role": "wizard", "content": "hi"},
        format="json",
    )

    assert response.status_code == 400
    assert "role" in response.json()["error"]["details"]


def test_a_viewer_cannot_add_a_message(personas, project):
    conversation = make_conversation(project)

    response = personas.client("viewer").post(
        conversations_url(project, f"{conversation.id}/messages/"),
        {"role": "user", "content": "hi"},
        format="json",
    )

    assert response.status_code == 403
    assert count(Message, conversation_id=conversation.id) == 0


def test_an_archived_project_refuses_new_conversations(personas, project):
    with service_context(reason="test fixture"):
        Project.objects.filter(pk=project.pk).update(archived_at=timezone.now())

    response = personas.client("member").post(conversations_url(project), {}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "project_archived"


def test_a_private_projects_conversations_are_404_for_members_not_on_it(personas):
    private = make_project(
        personas.org, personas.users["owner"], "secret", visibility=Project.Visibility.PRIVATE
    )
    make_conversation(private)

    assert personas.client("member").get(conversations_url(private)).status_code == 404
    assert personas.client("admin").get(conversations_url(private)).status_code == 200


def _queries_and_rows(client, url):
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), len(response.json()["results"])


def test_listing_conversations_costs_the_same_queries_for_3_or_15(personas, project):
    client = personas.client("member")
    for n in range(3):
        make_conversation(project, f"c{n}", messages=2)
    few = _queries_and_rows(client, conversations_url(project))
    for n in range(12):
        make_conversation(project, f"more{n}", messages=1)
    many = _queries_and_rows(client, conversations_url(project))

    assert (few[1], many[1]) == (3, 15)
    assert few[0] == many[0]


def test_listing_messages_costs_the_same_queries_for_3_or_15(personas, project):
    client = personas.client("member")
    few_conversation = make_conversation(project, messages=3)
    many_conversation = make_conversation(project, messages=15)

    few = _queries_and_rows(client, conversations_url(project, f"{few_conversation.id}/messages/"))
    many = _queries_and_rows(
        client, conversations_url(project, f"{many_conversation.id}/messages/")
    )

    assert (few[1], many[1]) == (3, 15)
    assert few[0] == many[0]
