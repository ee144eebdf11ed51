"""The whole project as one JSON document, in a fixed number of queries."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.projects.support import (
    add_project_member,
    make_file,
    make_org_member,
    make_project,
    project_url,
    save_file,
)

pytestmark = pytest.mark.django_db


def test_the_document_holds_the_project_its_members_and_every_live_file_at_head(personas):
    owner = personas.users["owner"]
    project = make_project(
        personas.org, owner, "demo", description="d", tags=["t"], settings={"indent": 4}
    )
    add_project_member(project, personas.users["viewer"], "editor", actor=owner)
    readme = make_file(project, "README.md", "# v1\n")
    save_file(readme, "# v2\n")
    make_file(project, "src/app.py", "print('hé')\n")
    gone = make_file(project, "gone.txt", "bye")
    personas.client("admin").delete(project_url("demo", f"files/{gone.pk}/"))

    response = personas.client("billing").get(project_url("demo", "document/"))

    assert response.status_code == 200
    doc = response.json()
    assert (doc["slug"], doc["description"], doc["tags"]) == ("demo", "d", ["t"])
    assert doc["settings"] == {"indent": 4}
    assert doc["my_role"] == "viewer"
    assert [(m["user"]["email"], m["role"]) for m in doc["members"]] == [
        ("viewer@acme.test", "editor")
    ]
    assert [f["path"] for f in doc["files"]] == ["README.md", "src/app.py"]
    head = doc["files"][0]
    assert (head["content"], head["revision"], head["size"]) == ("# v2\n", 2, 5)
    assert head["sha256"] == hashlib.sha256(b"# v2\n").hexdigest()
    app = doc["files"][1]
    assert app["size"] == len("print('hé')\n".encode())


def _queries(client, url: str) -> tuple[int, int]:
    client.get(url)  # warm-up
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    # Not counted: the request transaction's SAVEPOINT / RELEASE SAVEPOINT.
    statements = [q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    return len(statements), len(response.json()["files"])


def test_the_document_costs_the_same_queries_for_2_and_20_files(personas):
    owner = personas.users["owner"]
    project = make_project(personas.org, owner, "demo")
    for n in range(2):
        file = make_file(project, f"f{n:02}.txt", f"v1 {n}")
        save_file(file, f"v2 {n}")
    add_project_member(project, personas.users["viewer"], "viewer", actor=owner)
    client = personas.client("member")
    url = project_url("demo", "document/")

    few = _queries(client, url)
    for n in range(2, 20):
        file = make_file(project, f"f{n:02}.txt", f"v1 {n}")
        save_file(file, f"v2 {n}")
    for n in range(3):
        extra = make_org_member(personas.org, f"extra{n}@acme.test")
        add_project_member(project, extra, "editor", actor=owner)
    many = _queries(client, url)

    assert (few[1], many[1]) == (2, 20)
    assert few[0] == many[0]
    # auth session, enter_org, the project (with my role and favorite), members, files
    assert many[0] == 5, many[0]
