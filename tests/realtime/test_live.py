"""The feed against a live server (uvicorn, the real ASGI application) with a real SSE
client (``httpx-sse``): events arrive live, personas see what they may, streams resume
after a disconnect and a restart, tickets are single-use, and streams end when access
ends."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from accounts.models import Session
from accounts.services import session_revoke
from integrations.models import ApiKey
from integrations.services import api_key_create, api_key_revoke
from organizations.models import Membership, Organization
from organizations.services import member_change_role, member_remove, organization_set_suspended
from organizations.tenancy import service_context
from projects.models import Project, ProjectMember
from projects.services.ai import (
    conversation_create,
    generation_create,
    generation_update,
    message_create,
)
from projects.services.projects import project_member_remove
from sites.services.comments import comment_create
from tests.helpers import access_token, make_two_org_persona
from tests.projects.support import add_project_member, make_org_member, make_project
from tests.realtime.live import live_server, open_feed
from tests.sites.support import deploy_now, make_page, make_site, publish

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = "/api/v1/orgs/{}/events/"


def make_key(personas: Any, name: str, role: str, **fields: Any) -> tuple[Any, str]:
    """An API key of ``acme`` created by its owner: (row, secret)."""
    with service_context(reason="test: key"):
        return api_key_create(
            actor=personas.users["owner"],
            organization_id=personas.org.id,
            actor_role="owner",
            name=name,
            role=role,
            **fields,
        )


def session_of(access: str) -> Session:
    from rest_framework_simplejwt.tokens import AccessToken

    return Session.objects.get(id=AccessToken(access)["sid"])


def data(sse: Any) -> dict:
    return json.loads(sse.data)


@pytest.fixture
def live() -> Any:
    with live_server() as server:
        yield server


def test_each_kind_of_event_arrives_as_it_commits(personas: Any, live: Any) -> None:
    owner = personas.users["owner"]
    site = make_site(personas.org, owner, "shop")
    page = make_page(site, owner)
    publish(site, page, owner)
    project = make_project(personas.org, owner, "app")
    with open_feed(live.url, EVENTS.format("acme"), token=access_token(owner)) as feed:
        head = int(feed.until("ready")[-1].id)
        with service_context(reason="test: live events"):
            chat = conversation_create(actor=owner, project=project, title="Chat")
            message_create(actor=owner, conversation=chat, role="user", content="hello")
            comment_create(actor=owner, page=page, body="Nice")
            generation = generation_create(actor=owner, project=project, prompt="p", model="m")
            generation_update(actor=None, generation=generation, status="running")
            generation_update(actor=None, generation=generation, status="succeeded", output="ok")
            temp = make_org_member(personas.org, "temp@acme.test")
            member_change_role(
                actor=owner,
                actor_role="owner",
                membership=Membership.objects.get(organization=personas.org, user=temp),
                role="viewer",
            )
        deploy_now(site, owner)
        got = feed.until("deployment.ready")
    kinds = [sse.event for sse in got]
    for kind in (
        "chat_message.created",
        "page_comment.created",
        "generation.created",
        "generation.finished",
        "member.role_changed",
        "deployment.ready",
    ):
        assert kind in kinds, kinds
    ids = [int(sse.id) for sse in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] == head + 1
    message = data(next(s for s in got if s.event == "chat_message.created"))
    assert message["changes"]["content"] == "hello" and message["project"] == str(project.id)
    comment = data(next(s for s in got if s.event == "page_comment.created"))
    assert comment["site"] == str(site.id) and comment["type"] == "sites.pagecomment"


def test_personas_receive_only_what_they_may_read(personas: Any, live: Any) -> None:
    """A member outside the private project, the owner of another org, a user in two
    orgs listening to the other one, a key scoped to sites only: none gets the private
    project's events; each gets its own org's sentinel."""
    owner = personas.users["owner"]
    two = make_two_org_persona(personas)
    _, narrow = make_key(personas, "sites", "admin", scopes=["events.subscribe", "site.view"])
    streams = {
        "owner": (EVENTS.format("acme"), access_token(owner)),
        "member": (EVENTS.format("acme"), access_token(personas.users["member"])),
        "viewer": (EVENTS.format("acme"), access_token(personas.users["viewer"])),
        "outsider": (EVENTS.format("globex"), access_token(personas.users["outsider"])),
        "dual_in_initech": (EVENTS.format("initech"), access_token(two.user)),
        "narrow_key": (EVENTS.format("acme"), narrow),
    }
    from contextlib import ExitStack

    with ExitStack() as stack:
        feeds = {
            n: stack.enter_context(open_feed(live.url, p, token=t)) for n, (p, t) in streams.items()
        }
        for feed in feeds.values():
            feed.until("ready")
        secret = make_project(personas.org, owner, "secret", visibility=Project.Visibility.PRIVATE)
        with service_context(reason="test: live events"):
            chat = conversation_create(actor=owner, project=secret, title="Plans")
            message_create(actor=owner, conversation=chat, role="user", content="the secret")
        # Sentinels: one event each stream may read, after everything above.
        make_site(personas.org, owner, "sentinel")
        make_site(personas.other_org, personas.users["outsider"], "sentinel")
        make_site(two.second.org, two.second.users["owner"], "sentinel")
        got = {n: [s.event for s in f.until("site.created")] for n, f in feeds.items()}
    assert "chat_message.created" in got["owner"] and "project.created" in got["owner"]
    for name in ("member", "viewer", "outsider", "dual_in_initech", "narrow_key"):
        assert got[name] == ["site.created"], (name, got[name])


def test_resume_after_a_disconnect_and_after_a_restart(personas: Any) -> None:
    owner = personas.users["owner"]
    access = access_token(owner)
    with live_server() as first:
        with open_feed(first.url, EVENTS.format("acme"), token=access) as feed:
            last = feed.until("ready")[-1].id
        for slug in ("one", "two", "three"):
            make_project(personas.org, owner, slug)
        with open_feed(
            first.url, EVENTS.format("acme"), token=access, **{"Last-Event-ID": last}
        ) as feed:
            got = feed.until("ready")
            port = int(first.url.rsplit(":", 1)[1])
    assert [data(s)["changes"]["slug"] for s in got[:-1]] == ["one", "two", "three"]
    assert [int(s.id) for s in got[:-1]] == [int(last) + 1, int(last) + 2, int(last) + 3]
    last = got[-1].id
    make_project(personas.org, owner, "while-down")  # the server is stopped
    with (
        live_server(port) as second,
        open_feed(
            second.url, EVENTS.format("acme"), token=access, **{"Last-Event-ID": last}
        ) as feed,
    ):
        got = feed.until("ready")
        make_project(personas.org, owner, "after")
        live_one = feed.next()
    assert [s.event for s in got] == ["project.created", "ready"]
    assert data(got[0])["changes"]["slug"] == "while-down"
    assert data(live_one)["changes"]["slug"] == "after" and int(live_one.id) == int(got[0].id) + 1


def test_an_unknown_or_expired_cursor_gets_a_reset(personas: Any, live: Any, settings: Any) -> None:
    owner = personas.users["owner"]
    make_project(personas.org, owner, "x")
    make_project(personas.org, owner, "y")
    with open_feed(
        live.url, EVENTS.format("acme"), token=access_token(owner), **{"Last-Event-ID": "999999"}
    ) as feed:
        first = feed.next()
    assert first.event == "reset" and data(first)["reason"] == "replay_unavailable"
    settings.REALTIME_REPLAY_MAX = 1
    with open_feed(
        live.url, EVENTS.format("acme"), token=access_token(owner), **{"Last-Event-ID": "0"}
    ) as feed:
        assert feed.next().event == "reset"


def test_tickets_are_single_use_and_expire(
    personas: Any, live: Any, settings: Any, log_text: Any
) -> None:
    owner = personas.users["owner"]
    auth = {"Authorization": f"Bearer {access_token(owner)}"}
    ticket = httpx.post(f"{live.url}/api/v1/orgs/acme/events/tickets/", headers=auth).json()
    assert ticket["expires_in"] == 30
    with open_feed(live.url, ticket["url"]) as feed:
        assert feed.until("ready")
    again = httpx.get(live.url + ticket["url"])
    assert again.status_code == 401 and again.json()["error"]["code"] == "ticket_invalid"
    settings.REALTIME_TICKET_SECONDS = 1
    late = httpx.post(f"{live.url}/api/v1/orgs/acme/events/tickets/", headers=auth).json()
    time.sleep(1.5)
    expired = httpx.get(live.url + late["url"])
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "ticket_invalid"
    other = httpx.post(f"{live.url}/api/v1/orgs/acme/events/tickets/", headers=auth).json()
    wrong_org = httpx.get(f"{live.url}/api/v1/orgs/globex/events/?ticket={other['ticket']}")
    assert wrong_org.status_code in (401, 404)
    # Never logged: the server's request lines (every logger, DEBUG) show it redacted.
    logged = log_text.getvalue()
    assert "events/?ticket=" in logged
    for spent in (ticket, late, other):
        assert spent["ticket"] not in logged


def _ends_within(feed: Any, seconds: float) -> str:
    started = time.monotonic()
    events = feed.until("close")
    assert time.monotonic() - started < seconds
    return data(events[-1])["reason"]


def test_streams_end_when_access_ends(personas: Any, live: Any) -> None:
    owner, member = personas.users["owner"], personas.users["member"]
    admin = personas.users["admin"]
    member_access, admin_access = access_token(member), access_token(admin)
    key, secret = make_key(personas, "k", "member")
    private = make_project(personas.org, owner, "hidden", visibility=Project.Visibility.PRIVATE)
    viewer = personas.users["viewer"]
    add_project_member(private, viewer, "viewer", actor=owner)
    with (
        open_feed(live.url, EVENTS.format("acme"), token=member_access) as by_session,
        open_feed(live.url, EVENTS.format("acme"), token=secret) as by_key,
        open_feed(live.url, EVENTS.format("acme"), token=admin_access) as removed,
        open_feed(
            live.url,
            EVENTS.format("acme") + f"?topics=project:{private.slug}",
            token=access_token(viewer),
        ) as project_topic,
    ):
        for feed in (by_session, by_key, removed, project_topic):
            feed.until("ready")
        with service_context(reason="test: end streams"):
            session_revoke(user=member, session_id=session_of(member_access).id)
            api_key_revoke(actor=owner, api_key=ApiKey.objects.get(id=key.id))
            member_remove(
                actor=owner,
                actor_role="owner",
                membership=Membership.objects.get(organization=personas.org, user=admin),
            )
            project_member_remove(
                actor=owner, member=ProjectMember.objects.get(project=private, user=viewer)
            )
        assert _ends_within(by_session, 5) == "access_revoked"
        assert _ends_within(by_key, 5) == "access_revoked"
        assert _ends_within(removed, 5) == "access_revoked"
        assert _ends_within(project_topic, 5) == "project_access_lost"
    # Requiring MFA ends the streams of members without it (found by the periodic check).
    with open_feed(
        live.url, EVENTS.format("acme"), token=access_token(personas.users["viewer"])
    ) as feed:
        feed.until("ready")
        with service_context(reason="test: require MFA"):
            Organization.objects.filter(id=personas.org.id).update(require_mfa=True)
        assert _ends_within(feed, 5) == "access_revoked"
    with service_context(reason="test: require MFA"):
        Organization.objects.filter(id=personas.org.id).update(require_mfa=False)
    # Suspension ends every stream of the organization.
    with open_feed(live.url, EVENTS.format("acme"), token=access_token(owner)) as feed:
        feed.until("ready")
        with service_context(reason="test: suspend"):
            organization_set_suspended(actor=None, organization=personas.org, suspended=True)
        assert _ends_within(feed, 5) == "organization_suspended"


def test_stream_limits_answer_429_in_the_error_shape(
    personas: Any, live: Any, settings: Any
) -> None:
    settings.REALTIME_MAX_STREAMS_PER_USER = 1
    access = access_token(personas.users["owner"])
    with open_feed(live.url, EVENTS.format("acme"), token=access) as feed:
        feed.until("ready")
        second = httpx.get(
            live.url + EVENTS.format("acme"), headers={"Authorization": f"Bearer {access}"}
        )
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "too_many_streams"


def test_heartbeats_keep_an_idle_stream_open(personas: Any, live: Any, settings: Any) -> None:
    settings.REALTIME_HEARTBEAT_SECONDS = 0.2
    headers = {"Authorization": f"Bearer {access_token(personas.users['viewer'])}"}
    with httpx.stream("GET", live.url + EVENTS.format("acme"), headers=headers, timeout=5) as r:
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if lines.count(": keepalive") >= 2:
                break
    assert lines[0] == "retry: 3000" and r.headers["content-type"].startswith("text/event-stream")


def test_refusals_are_the_api_error_shape(personas: Any, live: Any) -> None:
    for path, headers, status, code in (
        (EVENTS.format("acme"), {}, 401, "not_authenticated"),
        (
            EVENTS.format("globex"),
            {"Authorization": f"Bearer {access_token(personas.users['owner'])}"},
            404,
            "not_found",
        ),
        (
            EVENTS.format("acme") + "?topics=nope",
            {"Authorization": f"Bearer {access_token(personas.users['owner'])}"},
            400,
            "validation_error",
        ),
    ):
        response = httpx.get(live.url + path, headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
