"""Who receives which event, proven against the API itself.

For every event of an organization (each area, from the real services) and every
persona — each role, a member who is a project member of the private project and one
who is not, a billing member, an API key with a member role and one with narrow
scopes — the feed delivers the event exactly when that persona's ``GET`` of the object
(or of the list that shows it) answers it. The expected answers come from those GETs,
never from the feed's code. Then the hub's shortcut (one decision per event and
audience class) is shown equal to asking for every subscriber.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from realtime import feed, hub
from realtime.catalog import area_of
from realtime.visibility import Audience
from tests.realtime.world import World, build_world

pytestmark = pytest.mark.django_db

PERSONAS = ("owner", "admin", "member", "viewer", "billing", "insider", "full_key", "narrow_key")
BASE = "/api/v1/orgs/acme/"


@pytest.fixture
def world(personas: Any) -> World:
    return build_world(personas)


def org_events(world: World) -> list[Any]:
    with connection.cursor() as cursor:
        cursor.execute(
            feed.EVENTS_SQL, [world.personas.org.id, [world.users["owner"].id], 0, 10_000]
        )
        return [feed.event_from_row(row) for row in cursor.fetchall()]


def delivered(client: Any, **params: Any) -> list[tuple[int, str]]:
    """(id, event) of what the feed sends this client when it resumes from 0 (the
    WSGI answer: replay, then close)."""
    response = client.get(f"{BASE}events/", {"last_event_id": 0, **params})
    assert response.status_code == 200, response.content
    out, current = [], {}
    for line in b"".join(response.streaming_content).decode().splitlines():
        if not line:
            if current.get("event") not in (None, "ready", "close"):
                out.append((int(current["id"]), current["event"]))
            current = {}
        elif ": " in line and not line.startswith(":"):
            name, value = line.split(": ", 1)
            current[name] = value
    return out


def reads(client: Any, event: Any, world: World, cache: dict) -> bool:
    """Whether ``client`` can read the event's object with a GET (the truth)."""
    area = event.action.split(".", 1)[0]
    if area_of(event.action) is None:
        return False
    project = world.project_slugs.get(str(event.project_id)) if event.project_id else None
    url, find = {
        "org": (BASE, None),
        "member": (f"{BASE}members/", None),
        "invitation": (f"{BASE}invitations/", None),
        "site": (f"{BASE}sites/", None),
        "page": (f"{BASE}sites/", None),
        "page_version": (f"{BASE}sites/", None),
        "page_comment": (f"{BASE}sites/", None),
        "component": (f"{BASE}components/", None),
        "section": (f"{BASE}sections/", None),
        "template": (f"{BASE}templates/", None),
        "deployment": (f"{BASE}sites/", None),
        "domain": (f"{BASE}sites/", None),
        "billing": (f"{BASE}billing/", None),
        "cost_estimate": (f"{BASE}cost-estimates/", event.target_id),
        "api_key": (f"{BASE}api-keys/", None),
        "integration": (f"{BASE}integrations/", None),
        "data_mapping": (f"{BASE}integrations/", None),
        "integration_job": (f"{BASE}integrations/", None),
        "user_integration": (f"{BASE}user-integrations/", event.target_id),
        "webhook": (f"{BASE}webhooks/", None),
    }.get(area, (f"{BASE}projects/{project}/" if project else None, None))
    if url is None:
        return False
    if (id(client), url) not in cache:
        cache[id(client), url] = client.get(url)
    response = cache[id(client), url]
    if response.status_code != 200:
        return False
    return find is None or find in response.content.decode()


def test_each_persona_receives_exactly_what_its_gets_read(world: World) -> None:
    events = org_events(world)
    areas = {e.action.split(".", 1)[0] for e in events}
    # The world covers the areas the feed is for (a world that lost one proves less).
    assert {
        "project",
        "chat_message",
        "generation",
        "job",
        "site",
        "page",
        "page_comment",
        "deployment",
        "domain",
        "api_key",
        "cost_estimate",
        "user_integration",
        "integration",
        "member",
    } <= areas, areas
    cache: dict = {}
    for name in PERSONAS:
        client = world.clients[name]
        got = {seq for seq, _ in delivered(client)}
        expected = {e.sequence for e in events if reads(client, e, world, cache)}
        by_seq = {e.sequence: e.action for e in events}
        assert got == expected, (
            name,
            "extra:",
            sorted(by_seq[s] for s in got - expected),
            "missing:",
            sorted(by_seq[s] for s in expected - got),
        )


def test_the_private_project_reaches_its_members_and_admins_only(world: World) -> None:
    secret = next(pid for pid, slug in world.project_slugs.items() if slug.startswith("secret"))
    events = {e.sequence: e for e in org_events(world)}
    secret_seqs = {s for s, e in events.items() if str(e.project_id) == secret}
    assert secret_seqs
    for name, sees in (
        ("owner", True),
        ("admin", True),
        ("insider", True),
        ("member", False),
        ("viewer", False),
        ("full_key", False),
    ):
        got = {s for s, _ in delivered(world.clients[name])}
        assert (secret_seqs <= got) if sees else not (secret_seqs & got), name


def test_topics_filter_what_is_delivered(world: World) -> None:
    owner = world.clients["owner"]
    got = delivered(owner, topics="comments,deployments")
    assert got and {a.split(".")[0] for _, a in got} == {"page_comment", "deployment"}
    only_open = delivered(owner, topics="project:open")
    events = {e.sequence: e for e in org_events(world)}
    assert only_open and all(
        world.project_slugs[str(events[s].project_id)] == "open" for s, _ in only_open
    )


def test_the_hub_decides_once_per_event_and_class_and_agrees_with_each_subscriber(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = org_events(world)
    org = world.personas.org.id
    users = world.users
    roles = {
        "owner": "owner",
        "admin": "admin",
        "member": "member",
        "viewer": "viewer",
        "billing": "billing",
        "insider": "member",
    }
    subs = []
    for name, role in roles.items():
        for _ in range(3):  # several subscribers per class
            subs.append(feed.Subscription(org, users[name].id, Audience("person", role)))
    subs.append(
        feed.Subscription(
            org, users["owner"].id, Audience("api_key", "admin", ("events.subscribe", "site.view"))
        )
    )
    subs.append(feed.Subscription(org, uuid.uuid4(), Audience("person", "member")))  # a stranger id
    calls: Counter = Counter()
    real_decide = hub.decide

    def counting(event: Any, audience: Any) -> Any:
        calls[event.sequence] += 1
        return real_decide(event, audience)

    monkeypatch.setattr(hub, "decide", counting)

    async def run() -> list[list[bytes]]:
        h = hub.Hub()
        streams = []
        for sub in subs:
            stream = hub.Stream(sub, queue=asyncio.Queue(10_000))
            h.streams[org].add(stream)
            streams.append(stream)
        h.fan_out(org, events)
        return [[s.queue.get_nowait() for _ in range(s.queue.qsize())] for s in streams]

    queues = asyncio.run(run())
    for sub, got in zip(subs, queues, strict=True):
        assert got == [feed.event_frame(e) for e in events if sub.receives(e)], sub
    classes = len({s.audience for s in subs})
    assert max(calls.values()) <= classes < len(subs)
