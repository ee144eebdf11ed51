"""Every workspace list costs the same number of queries for 3 rows as for 15."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.billing.support import unlimited_plan
from tests.projects.support import (
    add_project_member,
    make_file,
    make_org_member,
    make_project,
    make_snapshot,
    project_url,
    projects_url,
    save_file,
)

pytestmark = pytest.mark.django_db


def queries_and_rows(client, url: str) -> tuple[int, int]:
    client.get(url)  # warm-up
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return _statements(queries), len(response.json()["results"])


def _statements(queries: CaptureQueriesContext) -> int:
    """Queries other than the request transaction's SAVEPOINT / RELEASE SAVEPOINT."""
    return sum(1 for q in queries.captured_queries if "SAVEPOINT" not in q["sql"])


def _compare(client, url: str, add: Callable[[int, int], None]) -> int:
    add(0, 3)
    few = queries_and_rows(client, url)
    add(3, 15)
    many = queries_and_rows(client, url)
    assert (few[1], many[1]) == (3, 15)
    assert few[0] == many[0], (few, many)
    return many[0]


def test_project_list(personas):
    unlimited_plan(personas.org)  # 15 projects: more than the free plan's 10
    owner = personas.users["owner"]
    admin = personas.client("admin")

    def add(start: int, stop: int) -> None:
        for n in range(start, stop):
            project = make_project(
                personas.org, owner, f"p{n}", visibility="private" if n % 2 else "org"
            )
            add_project_member(project, personas.users["admin"], "viewer", actor=owner)
            if n % 3 == 0:
                admin.put(project_url(project.slug, "favorite/"))

    count = _compare(admin, projects_url(), add)
    assert count == 3, count  # session, enter_org, the page


def test_project_member_list(personas):
    owner = personas.users["owner"]
    project = make_project(personas.org, owner, "demo")

    def add(start: int, stop: int) -> None:
        for n in range(start, stop):
            user = make_org_member(personas.org, f"pm{n}@acme.test")
            add_project_member(project, user, "editor", actor=owner)

    count = _compare(personas.client("viewer"), project_url("demo", "members/"), add)
    assert count == 4, count  # session, enter_org, the project, the page


def test_file_list(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")

    def add(start: int, stop: int) -> None:
        for n in range(start, stop):
            save_file(make_file(project, f"f{n:02}.txt", "v1"), "v2")

    count = _compare(personas.client("viewer"), project_url("demo", "files/"), add)
    assert count == 4, count


def test_revision_list(personas):
    owner = personas.users["owner"]
    project = make_project(personas.org, owner, "demo")
    file = make_file(project, "a.txt", "v0", actor=owner)
    authors = [personas.users[p] for p in ("owner", "admin", "member")]

    def add(start: int, stop: int) -> None:
        for n in range(max(start, 1), stop):
            save_file(file, f"v{n}", actor=authors[n % 3])

    count = _compare(
        personas.client("viewer"), project_url("demo", f"files/{file.pk}/revisions/"), add
    )
    assert count == 5, count  # ... the project, the file, the page


def test_snapshot_list(personas):
    owner = personas.users["owner"]
    project = make_project(personas.org, owner, "demo")
    make_file(project, "a.txt", "a")

    def add(start: int, stop: int) -> None:
        for n in range(start, stop):
            make_file(project, f"f{n}.txt", "x")
            make_snapshot(project, f"s{n}", actor=owner)

    count = _compare(personas.client("viewer"), project_url("demo", "snapshots/"), add)
    assert count == 4, count
