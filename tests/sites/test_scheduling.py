"""Acceptance 2: scheduled publishing, expiry, and two schedulers racing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connections
from django.db.models.signals import post_save

from organizations.tenancy import tenant_context
from sites.models import Page
from sites.services.pages import publish_due
from tests.sites.support import audit_actions, get, make_page, make_site, page_url, publish

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_scheduled_version_is_not_live_before_its_time_and_is_live_after(personas):
    owner = personas.users["owner"]
    now = datetime.now(UTC)
    site = make_site(personas.org, owner)
    page = make_page(site, owner, body="launch")
    response = personas.client("member").post(
        page_url(page.id, "publish/"),
        {"go_live_at": (now + timedelta(hours=2)).isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.json()
    scheduled = get(Page, id=page.id)
    assert (scheduled.status, scheduled.live_version_id) == ("scheduled", None)

    with time_machine.travel(now + timedelta(hours=1, minutes=59), tick=False):
        call_command("publish_scheduled")
        assert get(Page, id=page.id).live_version_id is None

    with time_machine.travel(now + timedelta(hours=2), tick=False):
        call_command("publish_scheduled")
        live = get(Page, "live_version", id=page.id)
        assert (live.status, live.live_version.number) == ("published", 1)
        assert live.scheduled_version_id is None and live.go_live_at is None
    assert audit_actions(personas.org, "page.") == [
        "page.created",
        "page.scheduled",
        "page.published",
    ]


@pytest.mark.django_db
def test_an_expired_page_is_taken_down(personas):
    owner = personas.users["owner"]
    with time_machine.travel(NOW, tick=False):
        site = make_site(personas.org, owner)
        page = make_page(site, owner)
        publish(site, page, owner, expire_at=NOW + timedelta(days=1))
    with time_machine.travel(NOW + timedelta(days=1, seconds=1), tick=False):
        assert publish_due() == {"published": 0, "expired": 1, "deployed": 0}
    expired = get(Page, id=page.id)
    assert (expired.status, expired.live_version_id) == ("archived", None)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scheduler_runs_publish_once(personas):
    """Run A claims the due page and is held mid-transaction; run B starts meanwhile.
    B must skip the claimed row (SKIP LOCKED), and A's commit leaves nothing due."""
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    page = make_page(site, owner)
    publish(site, page, owner, go_live_at=datetime.now(UTC) + timedelta(hours=1))
    later = datetime.now(UTC) + timedelta(hours=2)

    a_claimed, b_finished = threading.Event(), threading.Event()
    results: dict[str, dict[str, int]] = {}

    def hold_run_a(sender, instance, **kwargs):
        if threading.current_thread().name == "scheduler-a":
            a_claimed.set()
            b_finished.wait(5)

    def run(name: str) -> None:
        try:
            results[name] = publish_due(now=later)
        finally:
            connections.close_all()

    post_save.connect(hold_run_a, sender=Page)
    try:
        a = threading.Thread(target=run, args=("a",), name="scheduler-a")
        a.start()
        assert a_claimed.wait(10), "run A never claimed the page"
        b = threading.Thread(target=run, args=("b",), name="scheduler-b")
        b.start()
        b.join(3)
        b_finished.set()
        a.join(10)
        b.join(10)
    finally:
        post_save.disconnect(hold_run_a, sender=Page)

    assert {name: (r["published"], r["expired"]) for name, r in results.items()} == {
        "a": (1, 0),
        "b": (0, 0),
    }
    # One production deployment in all: whichever run reaches the changed site after A
    # commits deploys it (the other finds nothing pending).
    assert results["a"]["deployed"] + results["b"]["deployed"] == 1
    assert audit_actions(personas.org, "page.published") == ["page.published"]
    assert get(Page, "live_version", id=page.id).live_version.number == 1


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_skips_a_page_another_transaction_holds(personas):
    """The claim itself: a row locked elsewhere (here an editor's transaction, outside
    any elevation) is skipped at once, not waited for, and published on the next run.
    (Elevated runs are also serialised by the audit chain's advisory lock, so the
    previous test would pass without the claim; this one would not.)"""
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    page = make_page(site, owner)
    publish(site, page, owner, go_live_at=datetime.now(UTC) + timedelta(hours=1))
    later = datetime.now(UTC) + timedelta(hours=2)

    locked, release = threading.Event(), threading.Event()

    def editor_holds_the_row() -> None:
        try:
            with tenant_context(user_id=owner.id, org_slug="acme"):
                Page.objects.select_for_update().get(id=page.id)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    results: list[dict[str, int]] = []

    def scheduler() -> None:
        try:
            results.append(publish_due(now=later))
        finally:
            connections.close_all()

    editor = threading.Thread(target=editor_holds_the_row)
    editor.start()
    try:
        assert locked.wait(10)
        run = threading.Thread(target=scheduler)
        run.start()
        run.join(5)
        blocked = run.is_alive()
    finally:
        release.set()
        editor.join(10)
    run.join(10)
    assert not blocked, "the scheduler waited for a row another transaction holds"
    assert results == [{"published": 0, "expired": 0, "deployed": 0}]
    assert publish_due(now=later) == {"published": 1, "expired": 0, "deployed": 1}


@pytest.mark.django_db
def test_a_suspended_organization_s_scheduled_page_waits_until_it_is_lifted(personas):
    """Suspension stops background writes too (issue 10, finding 6)."""
    from organizations.services import organization_set_suspended
    from organizations.tenancy import service_context

    owner, staff = personas.users["owner"], personas.users["admin"]
    with time_machine.travel(NOW, tick=False):
        site = make_site(personas.org, owner)
        page = make_page(site, owner)
        publish(site, page, owner, go_live_at=NOW + timedelta(hours=1))
    with service_context(reason="test: suspend"):
        organization_set_suspended(actor=staff, organization=personas.org, suspended=True)
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        assert publish_due() == {"published": 0, "expired": 0, "deployed": 0}
        assert get(Page, id=page.id).live_version_id is None
        with service_context(reason="test: lift"):
            organization_set_suspended(actor=staff, organization=personas.org, suspended=False)
        assert publish_due() == {"published": 1, "expired": 0, "deployed": 1}
