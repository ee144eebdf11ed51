"""Snapshots: named, immutable sets of head revisions; restoring one adds revisions."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection

from organizations.tenancy import service_context
from tests.projects.support import (
    audit_actions,
    audit_events,
    error_code,
    make_file,
    make_project,
    make_snapshot,
    project_url,
    reload_file,
    revisions,
    save_file,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(personas):
    return personas.client("member")


def _snap(client, name: str = "v1", **extra):
    return client.post(project_url("demo", "snapshots/"), {"name": name, **extra}, format="json")


def test_a_snapshot_records_the_head_of_every_live_file(project, member, personas):
    a = make_file(project, "a.txt", "a1")
    save_file(a, "a2")
    make_file(project, "b.txt", "b1")
    gone = make_file(project, "gone.txt", "g")
    member.delete(project_url("demo", f"files/{gone.pk}/"))

    created = _snap(member, "release", description="first cut")
    detail = member.get(project_url("demo", f"snapshots/{created.json()['id']}/"))

    assert created.status_code == 201, created.content
    assert created.json()["file_count"] == 2
    assert created.json()["created_by"]["email"] == "member@acme.test"
    body = detail.json()
    assert body["description"] == "first cut"
    assert [(e["path"], e["revision"]) for e in body["entries"]] == [("a.txt", 2), ("b.txt", 1)]
    assert audit_actions(personas.org, "snapshot.") == ["snapshot.created"]


def test_snapshot_names_are_unique_per_project(project, member, personas):
    other = make_project(personas.org, personas.users["owner"], "other")
    assert _snap(member, "v1").status_code == 201
    again = _snap(member, "v1")
    elsewhere = member.post(project_url("other", "snapshots/"), {"name": "v1"}, format="json")
    assert again.status_code == 409 and error_code(again) == "snapshot_name_taken"
    assert elsewhere.status_code == 201
    assert other.slug == "other"


def test_snapshots_are_listed_with_their_file_count(project, member, personas):
    make_file(project, "a.txt", "a")
    make_snapshot(project, "one", actor=personas.users["owner"])
    make_file(project, "b.txt", "b")
    make_snapshot(project, "two", actor=personas.users["owner"])
    results = member.get(project_url("demo", "snapshots/")).json()["results"]
    assert [(s["name"], s["file_count"]) for s in results] == [("two", 2), ("one", 1)]


def test_a_viewer_reads_snapshots_but_cannot_take_or_restore_them(project, personas):
    snapshot = make_snapshot(project, "s", actor=personas.users["owner"])
    viewer = personas.client("viewer")
    assert viewer.get(project_url("demo", f"snapshots/{snapshot.pk}/")).status_code == 200
    assert _snap(viewer, "mine").status_code == 403
    restore = viewer.post(project_url("demo", f"snapshots/{snapshot.pk}/restore/"))
    assert restore.status_code == 403


def test_restoring_a_snapshot_brings_files_back_with_new_revisions(project, member, personas):
    owner = personas.users["owner"]
    changed = make_file(project, "changed.txt", "c1")
    same = make_file(project, "same.txt", "s1")
    deleted = make_file(project, "deleted.txt", "d1")
    snapshot = make_snapshot(project, "before", actor=owner)
    save_file(changed, "c2")
    save_file(changed, "c3")
    member.delete(project_url("demo", f"files/{deleted.pk}/"))
    later = make_file(project, "later.txt", "l1")

    response = member.post(project_url("demo", f"snapshots/{snapshot.pk}/restore/"))

    assert response.status_code == 200, response.content
    assert response.json() == {"restored": 1, "undeleted": 1, "deleted": 1, "unchanged": 1}
    # History is appended to, never rewritten.
    assert revisions(changed) == [(1, "c1"), (2, "c2"), (3, "c3"), (4, "c1")]
    assert revisions(same) == [(1, "s1")]
    assert revisions(deleted) == [(1, "d1")]
    assert reload_file(deleted).deleted_at is None
    assert reload_file(later).deleted_at is not None
    assert revisions(later) == [(1, "l1")]
    live = member.get(project_url("demo", "files/")).json()["results"]
    assert [(f["path"], f["revision"]) for f in live] == [
        ("changed.txt", 4),
        ("deleted.txt", 1),
        ("same.txt", 1),
    ]
    [event] = audit_events(personas.org, "snapshot.restored")
    assert event.changes["name"] == "before"
    assert {k: event.changes[k] for k in ("restored", "undeleted", "deleted", "unchanged")} == {
        "restored": 1,
        "undeleted": 1,
        "deleted": 1,
        "unchanged": 1,
    }


def test_restoring_a_deleted_file_whose_content_changed_does_both(project, member, personas):
    file = make_file(project, "a.txt", "v1")
    snapshot = make_snapshot(project, "s", actor=personas.users["owner"])
    save_file(file, "v2")
    member.delete(project_url("demo", f"files/{file.pk}/"))
    response = member.post(project_url("demo", f"snapshots/{snapshot.pk}/restore/"))
    assert response.json() == {"restored": 1, "undeleted": 1, "deleted": 0, "unchanged": 0}
    assert revisions(file)[-1] == (3, "v1")


def test_restoring_an_unchanged_project_writes_nothing_but_the_audit_event(
    project, member, personas
):
    file = make_file(project, "a.txt", "v1")
    snapshot = make_snapshot(project, "s", actor=personas.users["owner"])
    response = member.post(project_url("demo", f"snapshots/{snapshot.pk}/restore/"))
    assert response.json() == {"restored": 0, "undeleted": 0, "deleted": 0, "unchanged": 1}
    assert revisions(file) == [(1, "v1")]


def test_a_failed_restore_writes_nothing(project, member, personas):
    """A file of the snapshot took the path of another one that has been deleted since:
    bringing that one back would clash, so the whole restore is refused."""
    owner = personas.users["owner"]
    a = make_file(project, "a.txt", "a1")
    b = make_file(project, "b.txt", "b1")
    snapshot = make_snapshot(project, "s", actor=owner)
    save_file(a, "a2")
    member.delete(project_url("demo", f"files/{b.pk}/"))
    member.patch(project_url("demo", f"files/{a.pk}/"), {"path": "b.txt"}, format="json")

    response = member.post(project_url("demo", f"snapshots/{snapshot.pk}/restore/"))

    assert response.status_code == 409 and error_code(response) == "path_taken"
    assert revisions(a) == [(1, "a1"), (2, "a2")]
    assert reload_file(b).deleted_at is not None
    assert audit_actions(personas.org, "snapshot.restored") == []


def test_a_snapshot_of_another_project_is_a_404(project, member, personas):
    other = make_project(personas.org, personas.users["owner"], "other")
    snapshot = make_snapshot(other, "s", actor=personas.users["owner"])
    assert member.get(project_url("demo", f"snapshots/{snapshot.pk}/")).status_code == 404
    restore = member.post(project_url("demo", f"snapshots/{snapshot.pk}/restore/"))
    assert restore.status_code == 404


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE projects_snapshot SET name = 'forged'",
        "DELETE FROM projects_snapshot",
        "UPDATE projects_snapshotentry SET revision_id = revision_id",
        "DELETE FROM projects_snapshotentry",
    ],
)
def test_snapshots_cannot_be_changed_by_the_app_role(project, personas, statement):
    make_file(project, "a.txt", "v1")
    make_snapshot(project, "s", actor=personas.users["owner"])
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        service_context(reason="test: try to rewrite a snapshot"),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
