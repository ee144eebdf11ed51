"""The feed's parts on their own: the catalog, the trigger, queues, tickets, the WSGI answer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from django.db import connection

from integrations.event_types import EVENT_TYPES
from realtime import feed, hub, tickets
from realtime.catalog import ACCOUNT_ACTIONS, area_of
from realtime.migrations import __path__ as migrations_path
from realtime.visibility import Audience


def test_every_organization_event_type_is_on_the_feed() -> None:
    """The webhook catalog lists every organization-level audit action (a test keeps it
    complete): each must have a feed area, or it would silently never be delivered."""
    missing = [a for a in EVENT_TYPES if a != "webhook.test" and area_of(a) is None]
    assert not missing


def test_the_trigger_announces_exactly_the_catalogs_account_actions() -> None:
    from importlib import import_module

    migration = import_module("realtime.migrations.0001_feed_functions")
    assert set(migration.ACCOUNT_ACTIONS) == ACCOUNT_ACTIONS, migrations_path


@pytest.mark.django_db(transaction=True)
def test_a_committed_event_is_notified_with_its_org_and_sequence(personas: Any) -> None:
    import psycopg

    from tests.projects.support import make_project

    with psycopg.connect(hub.conninfo(), autocommit=True) as listener:
        listener.execute("LISTEN app_events")
        make_project(personas.org, personas.users["owner"], "noted")
        notes = list(listener.notifies(timeout=5, stop_after=1))
    with connection.cursor() as cursor:
        cursor.execute(feed.HEAD_SQL, [personas.org.id, [personas.users["owner"].id]])
        head = cursor.fetchone()[0]
    assert [n.payload for n in notes] == [f"{personas.org.id}:{head}"]


@pytest.mark.django_db
def test_nothing_is_read_for_an_organization_none_of_the_members_belongs_to(
    personas: Any,
) -> None:
    from tests.projects.support import make_project

    make_project(personas.org, personas.users["owner"], "p")
    with connection.cursor() as cursor:
        cursor.execute(feed.EVENTS_SQL, [personas.org.id, [personas.users["outsider"].id], 0, 100])
        assert cursor.fetchall() == []
        cursor.execute(feed.EVENTS_SQL, [personas.org.id, [personas.users["viewer"].id], 0, 100])
        assert cursor.fetchall()


def test_a_consumer_that_falls_behind_is_cut_off_with_a_final_event(settings: Any) -> None:
    settings.REALTIME_QUEUE_SIZE = 3
    sub = feed.Subscription(uuid.uuid4(), uuid.uuid4(), Audience("person", "owner"))

    async def run() -> tuple[list[Any], str | None]:
        stream = hub.Stream(sub)
        for n in range(5):
            stream.put(f"event {n}".encode())
        return [stream.queue.get_nowait() for _ in range(stream.queue.qsize())], stream.close_reason

    queued, reason = asyncio.run(run())
    assert queued == [hub.CLOSE] and reason == "too_slow"


def test_a_ticket_is_spent_once(settings: Any) -> None:
    ticket = tickets.issue(
        organization_id=uuid.uuid4(), user_id=uuid.uuid4(), session_id=None, api_key=None
    )
    assert tickets.spend(ticket) is not None
    assert tickets.spend(ticket) is None
    assert tickets.spend("rt_" + "x" * 43) is None


@pytest.mark.django_db
def test_the_wsgi_answer_replays_then_closes_and_refuses_bad_input(personas: Any) -> None:
    from tests.projects.support import make_project

    owner = personas.client("owner")
    make_project(personas.org, personas.users["owner"], "first")
    url = "/api/v1/orgs/acme/events/"
    body = b"".join(owner.get(url, HTTP_LAST_EVENT_ID="0").streaming_content).decode()
    assert "event: project.created" in body and body.rstrip().endswith('{"reason":"no_live_feed"}')
    for params, field in (
        ({"last_event_id": "x"}, "last_event_id"),
        ({"topic": "a"}, "topic"),
        ({"topics": "chat,nope"}, "topics"),
    ):
        response = owner.get(url, params)
        assert response.status_code == 400
        assert field in response.json()["error"]["details"]
