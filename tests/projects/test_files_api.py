"""Files and their immutable, numbered revisions: create, save, rename, delete,
history, restore, diff, limits, and revision numbers under concurrency."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from django.db import DatabaseError, connection, connections, transaction

from organizations.permissions import Role
from organizations.tenancy import service_context, tenant_context
from projects.models import ProjectFile
from projects.services.files import file_update
from tests.helpers import make_org, make_user
from tests.projects.support import (
    audit_actions,
    audit_events,
    error_code,
    file_url,
    make_file,
    make_project,
    project_url,
    reload_file,
    revisions,
    save_file,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(personas):
    return personas.client("member")


def _create(client, path: str = "src/app.py", content: str = "print(1)\n", **extra):
    return client.post(
        project_url("demo", "files/"), {"path": path, "content": content, **extra}, format="json"
    )


# --- create ---------------------------------------------------------------------------------------


def test_creating_a_file_makes_revision_1_with_hash_and_size(project, member, personas):
    response = _create(member, content="héllo\n", message="first")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["path"] == "src/app.py"
    assert body["content"] == "héllo\n"
    assert body["revision"] == 1
    assert body["size"] == len("héllo\n".encode()) == 7
    assert body["sha256"] == hashlib.sha256("héllo\n".encode()).hexdigest()
    assert body["head"]["author"]["email"] == "member@acme.test"
    assert body["head"]["message"] == "first"
    assert revisions(body) == [(1, "héllo\n")]
    # File saves are recorded in the history, not in the audit trail.
    assert audit_actions(personas.org, "file.") == []


def test_content_is_kept_byte_for_byte(project, member):
    content = "  indented\n\ttab\n\n"
    response = _create(member, content=content)
    assert response.json()["content"] == content


def test_an_empty_file_is_allowed(project, member):
    response = member.post(project_url("demo", "files/"), {"path": "empty.txt"}, format="json")
    assert response.status_code == 201
    assert response.json()["size"] == 0 and response.json()["revision"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../x",
        "a/../b",
        "a//b",
        "a/",
        "./a",
        "",
        "   ",
        "a\\b",
        "a\x00b",
        "a\nb",
        "x" * 501,
    ],
)
def test_bad_paths_are_a_400(project, member, path):
    response = _create(member, path=path)
    assert response.status_code == 400, response.content
    assert "path" in response.json()["error"]["details"]


def test_a_path_of_500_characters_is_fine_and_whitespace_around_it_is_dropped(project, member):
    assert _create(member, path="d/" + "x" * 498).status_code == 201
    assert _create(member, path="  b.txt ").json()["path"] == "b.txt"


def test_a_taken_path_is_a_409(project, member):
    _create(member, path="a.txt")
    response = _create(member, path="a.txt")
    assert response.status_code == 409
    assert error_code(response) == "path_taken"


def test_content_over_the_limit_is_a_413_file_too_large(project, member, settings):
    settings.PROJECT_MAX_FILE_BYTES = 10
    too_big = _create(member, content="é" * 6)  # 12 bytes
    fits = _create(member, path="ok.txt", content="x" * 10)
    assert too_big.status_code == 413
    assert error_code(too_big) == "file_too_large"
    assert fits.status_code == 201
    with service_context(reason="test read"):
        assert list(ProjectFile.objects.values_list("path", flat=True)) == ["ok.txt"]


def test_saving_over_the_limit_is_a_413_and_keeps_the_head(project, member, settings):
    file = _create(member, content="small").json()
    settings.PROJECT_MAX_FILE_BYTES = 10
    response = member.patch(file_url(project, file), {"content": "x" * 11}, format="json")
    assert response.status_code == 413
    assert revisions(file) == [(1, "small")]


def test_a_project_holds_at_most_the_file_limit(project, member, settings):
    settings.PROJECT_MAX_FILES = 2
    first = _create(member, path="1.txt").json()
    _create(member, path="2.txt")
    refused = _create(member, path="3.txt")
    member.delete(file_url(project, first))
    allowed = _create(member, path="3.txt")

    assert refused.status_code == 409 and error_code(refused) == "file_limit"
    assert allowed.status_code == 201


# --- read and list --------------------------------------------------------------------------------


def test_the_list_is_in_path_order_without_content(project, member):
    for path in ("src/b.py", "README.md", "src/a.py"):
        make_file(project, path, "x")
    results = member.get(project_url("demo", "files/")).json()["results"]
    assert [f["path"] for f in results] == ["README.md", "src/a.py", "src/b.py"]
    assert all("content" not in f for f in results)
    assert {f["revision"] for f in results} == {1}


def test_the_list_filters_by_path_prefix(project, member):
    for path in ("src/b.py", "README.md", "src/a.py"):
        make_file(project, path, "x")
    results = member.get(project_url("demo", "files/?path_prefix=src/")).json()["results"]
    assert [f["path"] for f in results] == ["src/a.py", "src/b.py"]


def test_deleted_files_are_listed_only_with_include_deleted(project, member):
    make_file(project, "keep.txt", "k")
    gone = make_file(project, "gone.txt", "g")
    member.delete(file_url(project, gone))

    default = member.get(project_url("demo", "files/")).json()["results"]
    everything = member.get(project_url("demo", "files/?include_deleted=true")).json()["results"]

    assert [f["path"] for f in default] == ["keep.txt"]
    assert {(f["path"], f["deleted"]) for f in everything} == {
        ("keep.txt", False),
        ("gone.txt", True),
    }


def test_the_list_pages_with_a_cursor(project, member):
    for n in range(5):
        make_file(project, f"f{n}.txt", "x")
    first = member.get(project_url("demo", "files/?page_size=2")).json()
    second = member.get(first["next"]).json()
    third = member.get(second["next"]).json()
    paths = [f["path"] for page in (first, second, third) for f in page["results"]]
    assert paths == [f"f{n}.txt" for n in range(5)]
    assert third["next"] is None


def test_a_file_of_another_project_is_a_404(personas, project, member):
    other = make_project(personas.org, personas.users["owner"], "other")
    file = make_file(other, "a.txt", "a")
    assert member.get(file_url(project, file)).status_code == 404
    assert member.get(project_url("other", f"files/{file.pk}/")).status_code == 200


# --- save, rename, delete -------------------------------------------------------------------------


def test_saving_new_content_adds_a_revision(project, member, personas):
    file = _create(member, content="one\n").json()
    response = member.patch(
        file_url(project, file), {"content": "two\n", "message": "second"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["revision"], body["content"], body["head"]["message"]) == (2, "two\n", "second")
    assert revisions(file) == [(1, "one\n"), (2, "two\n")]
    assert reload_file(file).size == 4


def test_saving_unchanged_content_makes_no_revision(project, member):
    file = _create(member, content="same").json()
    response = member.patch(file_url(project, file), {"content": "same"}, format="json")
    assert response.status_code == 200
    assert response.json()["revision"] == 1
    assert response.json()["head"]["id"] == file["head"]["id"]
    assert revisions(file) == [(1, "same")]


def test_a_rename_keeps_the_history(project, member):
    file = _create(member, path="old.py", content="v1").json()
    member.patch(file_url(project, file), {"content": "v2"}, format="json")
    response = member.patch(file_url(project, file), {"path": "new/name.py"}, format="json")

    assert response.status_code == 200
    assert response.json()["path"] == "new/name.py"
    assert response.json()["revision"] == 2
    assert revisions(file) == [(1, "v1"), (2, "v2")]
    history = member.get(file_url(project, file, "revisions/")).json()["results"]
    assert [r["number"] for r in history] == [2, 1]


def test_renaming_onto_a_taken_path_is_a_409(project, member):
    _create(member, path="a.txt")
    file = _create(member, path="b.txt").json()
    response = member.patch(file_url(project, file), {"path": "a.txt"}, format="json")
    assert response.status_code == 409 and error_code(response) == "path_taken"


def test_renaming_and_saving_at_once_does_both(project, member):
    file = _create(member, path="a.txt", content="1").json()
    body = member.patch(file_url(project, file), {"path": "b.txt", "content": "2"}, format="json")
    assert (body.json()["path"], body.json()["revision"]) == ("b.txt", 2)


def test_the_search_vector_follows_path_and_head_content(project, member):
    file = _create(member, path="notes/cooking.md", content="tomatoes").json()
    member.patch(file_url(project, file), {"content": "potatoes"}, format="json")
    member.patch(file_url(project, file), {"path": "notes/kitchen.md"}, format="json")

    with service_context(reason="test read"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT search @@ plainto_tsquery('english', 'potato'),"
            " search @@ plainto_tsquery('english', 'tomato'),"
            " search @@ plainto_tsquery('english', 'kitchen')"
            " FROM projects_projectfile WHERE id = %s",
            [file["id"]],
        )
        assert cursor.fetchone() == (True, False, True)


def test_deleting_a_file_is_soft_and_audited(project, member, personas):
    file = _create(member, content="x").json()
    first = member.delete(file_url(project, file))
    again = member.delete(file_url(project, file))

    assert (first.status_code, again.status_code) == (204, 204)
    assert reload_file(file).deleted_at is not None
    assert revisions(file) == [(1, "x")]
    assert member.get(file_url(project, file)).json()["deleted"] is True
    assert audit_actions(personas.org, "file.") == ["file.deleted"]


def test_a_deleted_file_cannot_be_edited_until_restored(project, member):
    file = _create(member, content="x").json()
    member.delete(file_url(project, file))
    response = member.patch(file_url(project, file), {"content": "y"}, format="json")
    assert response.status_code == 409 and error_code(response) == "file_deleted"


def test_a_path_is_free_again_once_its_file_is_deleted(project, member):
    file = _create(member, path="a.txt").json()
    member.delete(file_url(project, file))
    assert _create(member, path="a.txt").status_code == 201


# --- history --------------------------------------------------------------------------------------


def test_revisions_are_listed_newest_first_without_content_and_paged(project, member):
    file = make_file(project, "a.txt", "v1")
    for n in range(2, 6):
        save_file(file, f"v{n}")
    first = member.get(file_url(project, file, "revisions/?page_size=3")).json()
    second = member.get(first["next"]).json()

    assert [r["number"] for r in first["results"]] == [5, 4, 3]
    assert [r["number"] for r in second["results"]] == [2, 1]
    assert all("content" not in r for r in first["results"])


def test_one_revision_is_read_with_its_content(project, member):
    file = make_file(project, "a.txt", "v1")
    save_file(file, "v2")
    body = member.get(file_url(project, file, "revisions/1/")).json()
    assert (body["number"], body["content"]) == (1, "v1")
    assert body["sha256"] == hashlib.sha256(b"v1").hexdigest()
    assert member.get(file_url(project, file, "revisions/3/")).status_code == 404


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_no_api_changes_a_revision(project, member, method):
    file = make_file(project, "a.txt", "v1")
    response = member.generic(
        method,
        file_url(project, file, "revisions/1/"),
        data='{"content": "forged"}',
        content_type="application/json",
    )
    assert response.status_code == 405
    assert revisions(file) == [(1, "v1")]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE projects_filerevision SET content = 'forged'",
        "DELETE FROM projects_filerevision",
    ],
)
def test_the_app_role_cannot_change_or_delete_revisions_even_elevated(project, statement):
    file = make_file(project, "a.txt", "v1")
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        service_context(reason="test: try to rewrite history"),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert revisions(file) == [(1, "v1")]


def test_the_app_role_cannot_change_revisions_as_a_tenant_either(personas, project):
    file = make_file(project, "a.txt", "v1")
    with (
        tenant_context(user_id=personas.users["owner"].id, org_slug="acme"),
        connection.cursor() as cursor,
    ):
        for statement in (
            "UPDATE projects_filerevision SET content = 'forged'",
            "DELETE FROM projects_filerevision",
        ):
            # The savepoint keeps the tenant transaction usable after the error.
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                cursor.execute(statement)
    assert revisions(file) == [(1, "v1")]


# --- restore --------------------------------------------------------------------------------------


def test_restoring_an_old_revision_adds_a_new_one(project, member, personas):
    file = make_file(project, "a.txt", "v1")
    save_file(file, "v2")
    response = member.post(file_url(project, file, "restore/"), {"revision": 1}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["revision"], response.json()["content"]) == (3, "v1")
    assert response.json()["head"]["message"] == "Restore revision 1"
    assert revisions(file) == [(1, "v1"), (2, "v2"), (3, "v1")]
    [event] = audit_events(personas.org, "file.restored")
    assert event.changes["from_revision"] == 1 and event.changes["revision"] == 3


def test_restoring_the_head_content_is_a_no_op(project, member, personas):
    file = make_file(project, "a.txt", "v1")
    save_file(file, "v2")
    save_file(file, "v1")
    response = member.post(file_url(project, file, "restore/"), {"revision": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["revision"] == 3
    assert len(revisions(file)) == 3
    assert audit_actions(personas.org, "file.restored") == []


def test_restoring_a_deleted_file_brings_it_back(project, member):
    file = make_file(project, "a.txt", "v1")
    save_file(file, "v2")
    member.delete(file_url(project, file))
    response = member.post(file_url(project, file, "restore/"), {"revision": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["deleted"] is False
    assert revisions(file)[-1] == (3, "v1")


def test_restoring_a_missing_revision_is_a_404_and_a_bad_one_a_400(project, member):
    file = make_file(project, "a.txt", "v1")
    missing = member.post(file_url(project, file, "restore/"), {"revision": 9}, format="json")
    bad = member.post(file_url(project, file, "restore/"), {"revision": 0}, format="json")
    assert missing.status_code == 404
    assert bad.status_code == 400


# --- diff -----------------------------------------------------------------------------------------


def test_diff_between_two_revisions_is_unified(project, member):
    file = make_file(project, "a.py", "one\ntwo\nthree\n")
    save_file(file, "one\n2\nthree\n")
    body = member.get(file_url(project, file, "diff/?from=1&to=2")).json()
    assert (body["from"], body["to"]) == (1, 2)
    assert body["diff"].splitlines() == [
        "--- a/a.py@1",
        "+++ b/a.py@2",
        "@@ -1,3 +1,3 @@",
        " one",
        "-two",
        "+2",
        " three",
    ]


def test_diff_of_a_revision_with_itself_is_empty(project, member):
    file = make_file(project, "a.py", "x\n")
    assert member.get(file_url(project, file, "diff/?from=1&to=1")).json()["diff"] == ""


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?from=1",
        "?from=a&to=1",
        "?from=0&to=1",
        "?from=1&to=-2",
        "?from=1&to=2147483648",  # past the column's integer range
        "?from=25317256575311695872&to=1",  # past bigint: was a 500 (found by fuzzing)
    ],
)
def test_diff_with_bad_numbers_is_a_400(project, member, query):
    file = make_file(project, "a.py", "x\n")
    assert member.get(file_url(project, file, f"diff/{query}")).status_code == 400


def test_diff_with_a_missing_revision_is_a_404(project, member):
    file = make_file(project, "a.py", "x\n")
    assert member.get(file_url(project, file, "diff/?from=1&to=2")).status_code == 404


# --- concurrency ----------------------------------------------------------------------------------


def _backend_waits_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def _in_thread(work, errors: list) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def race_file(transactional_db):
    """An org ``race`` with one file, committed (the threads use their own connections)."""
    owner = make_user("owner@race.test")
    org = make_org("race", {owner: Role.OWNER})
    project = make_project(org, owner, "demo")
    return owner, make_file(project, "a.txt", "v1", actor=owner)


def test_two_saves_at_the_same_moment_get_consecutive_numbers(race_file):
    """The first save holds the file's row lock until the second is seen waiting for it;
    without the lock both would read head 1 and collide on number 2."""
    owner, file = race_file
    errors: list[BaseException] = []
    first_saved, first_may_commit = threading.Event(), threading.Event()
    second_pid: list[int] = []

    def first() -> None:
        with tenant_context(user_id=owner.id, org_slug="race"):
            file_update(actor=owner, file=file, content="first")
            first_saved.set()
            assert first_may_commit.wait(timeout=30)

    def second() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            second_pid.append(cursor.fetchone()[0])
        with tenant_context(user_id=owner.id, org_slug="race"):
            file_update(actor=owner, file=file, content="second")

    threads = [_in_thread(first, errors)]
    try:
        assert first_saved.wait(timeout=10), errors
        threads.append(_in_thread(second, errors))
        deadline, waited = time.monotonic() + 5, False
        while time.monotonic() < deadline and threads[1].is_alive():
            if second_pid and _backend_waits_on_a_lock(second_pid[0]):
                waited = True
                break
            threads[1].join(timeout=0.02)
    finally:
        first_may_commit.set()
        for thread in threads:
            thread.join(timeout=10)

    assert not errors, errors
    assert waited, "the second save did not wait for the first one's lock"
    assert revisions(file) == [(1, "v1"), (2, "first"), (3, "second")]
    assert reload_file(file).current_revision.number == 3


def test_many_concurrent_saves_never_collide(race_file):
    owner, file = race_file
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def save(n: int):
        def work() -> None:
            start.wait(timeout=10)
            with tenant_context(user_id=owner.id, org_slug="race"):
                file_update(actor=owner, file=file, content=f"writer {n}")

        return work

    threads = [_in_thread(save(n), errors) for n in range(6)]
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    history = revisions(file)
    assert [number for number, _ in history] == list(range(1, 8))
    assert {content for _, content in history[1:]} == {f"writer {n}" for n in range(6)}
    assert reload_file(file).current_revision.number == 7
