"""Projects: create, list with filters, read, update, archive, favorite, delete."""

from __future__ import annotations

import json

import pytest

from organizations.api.routes import methods_of, org_routes
from organizations.tenancy import service_context
from projects.models import Favorite, Project
from tests.helpers import client_for
from tests.projects.makers_workspace import (
    WORKSPACE_MAKERS,
    workspace,
)
from tests.projects.support import (
    audit_actions,
    audit_events,
    count_past_rls,
    error_code,
    make_file,
    make_project,
    make_snapshot,
    project_url,
    projects_url,
    save_file,
)

pytestmark = pytest.mark.django_db


def _project(slug: str) -> Project:
    with service_context(reason="test read"):
        return Project.objects.get(slug=slug)


# --- create ---------------------------------------------------------------------------------------


def test_a_member_creates_a_project_and_it_records_who_created_it(personas):
    response = personas.client("member").post(
        projects_url(),
        {
            "name": "Web App",
            "description": "The site",
            "tags": ["web", "django"],
            "settings": {"theme": "dark"},
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "web-app"
    assert body["visibility"] == "org"
    assert body["tags"] == ["web", "django"]
    assert body["settings"] == {"theme": "dark"}
    assert body["created_by"]["email"] == "member@acme.test"
    assert body["my_role"] == "editor" and body["favorite"] is False
    assert _project("web-app").created_by_id == personas.users["member"].id
    assert audit_actions(personas.org, "project.") == ["project.created"]


def test_a_taken_slug_is_a_409(personas):
    make_project(personas.org, personas.users["owner"], "site")
    response = personas.client("member").post(projects_url(), {"name": "Site"}, format="json")
    assert response.status_code == 409
    assert error_code(response) == "slug_taken"


def test_the_same_slug_is_free_in_another_organization(personas):
    make_project(personas.org, personas.users["owner"], "site")
    response = personas.client("outsider").post(
        projects_url("globex"), {"name": "Site"}, format="json"
    )
    assert response.status_code == 201


def test_a_viewer_cannot_create_a_project(personas):
    response = personas.client("viewer").post(projects_url(), {"name": "Nope"}, format="json")
    assert response.status_code == 403


def test_only_org_admins_can_create_a_private_project(personas):
    refused = personas.client("member").post(
        projects_url(), {"name": "Secret", "visibility": "private"}, format="json"
    )
    allowed = personas.client("admin").post(
        projects_url(), {"name": "Secret", "visibility": "private"}, format="json"
    )
    assert refused.status_code == 403
    assert allowed.status_code == 201 and allowed.json()["visibility"] == "private"


def test_unknown_fields_on_create_are_refused(personas):
    response = personas.client("member").post(
        projects_url(), {"name": "X", "archived_at": "2020-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"archived_at": ["Unknown field."]}


# --- list -----------------------------------------------------------------------------------------


def test_the_list_shows_my_role_and_my_favorites(personas):
    owner = personas.users["owner"]
    starred = make_project(personas.org, owner, "starred")
    make_project(personas.org, owner, "plain")
    personas.client("viewer").put(project_url(starred.slug, "favorite/"))

    body = personas.client("viewer").get(projects_url()).json()

    by_slug = {p["slug"]: p for p in body["results"]}
    assert set(by_slug) == {"starred", "plain"}
    assert by_slug["starred"]["favorite"] is True
    assert by_slug["plain"]["favorite"] is False
    assert {p["my_role"] for p in body["results"]} == {"viewer"}


@pytest.mark.parametrize("persona", ["owner", "member", "viewer"])
def test_a_list_item_is_the_same_document_as_the_detail(personas, persona):
    """The list is built from ``.values()`` rows, the detail by ``ProjectSerializer``."""
    owner = personas.users["owner"]
    starred = make_project(personas.org, owner, "starred", tags=["web"], settings={"theme": "dark"})
    make_project(personas.org, owner, "secret", visibility="private")
    archived = make_project(personas.org, owner, "old", description="Legacy")
    client = personas.client(persona)
    client.put(project_url(starred.slug, "favorite/"))
    assert personas.client("owner").post(project_url(archived.slug, "archive/")).status_code == 200

    listed = client.get(projects_url() + "?archived=true").json()["results"]
    listed += client.get(projects_url()).json()["results"]

    by_slug = {item["slug"]: item for item in listed}
    assert by_slug["old"]["archived"] and by_slug["starred"]["favorite"]
    for item in listed:
        detail = client.get(project_url(item["slug"]))
        assert detail.status_code == 200
        assert item == detail.json()


def test_the_callers_role_and_favorite_follow_the_project_when_the_list_is_nested(personas):
    """``my_override``/``is_favorite`` are written as SQL once (issue 21); they name the
    project table by the alias of the query compiling them, so a nested use (relabelled
    ``U0``) still correlates with its own rows, not the outer query's."""
    from projects import selectors
    from projects.models import ProjectMember

    owner, viewer = personas.users["owner"], personas.users["viewer"]
    starred = make_project(personas.org, owner, "starred")
    make_project(personas.org, owner, "plain")
    with service_context(reason="test"):
        Favorite.objects.create(organization=personas.org, project=starred, user=viewer)
        ProjectMember.objects.create(
            organization=personas.org, project=starred, user=viewer, role="editor"
        )
        mine = selectors.projects_for_user(organization_id=personas.org.id, user_id=viewer.id)
        starred_ids = mine.filter(is_favorite=True).values("id")
        nested = Project.objects.filter(id__in=starred_ids).values_list("slug", flat=True)
        assert list(nested) == ["starred"]
        # under another table: a hard-coded "projects_project" would not even compile
        on_starred = ProjectMember.objects.filter(project_id__in=starred_ids)
        assert list(on_starred.values_list("user_id", flat=True)) == [viewer.id]
        overridden = mine.filter(my_override="editor").values("id")
        assert list(Project.objects.filter(id__in=overridden).values_list("slug", flat=True)) == [
            "starred"
        ]
        rows = {r["slug"]: r for r in mine.values("slug", "my_override", "is_favorite")}
    assert rows["starred"]["my_override"] == "editor" and rows["starred"]["is_favorite"]
    assert rows["plain"]["my_override"] is None and not rows["plain"]["is_favorite"]


def test_the_list_filters_by_tag_visibility_and_favorite(personas):
    owner = personas.users["owner"]
    make_project(personas.org, owner, "tagged", tags=["web", "api"])
    hidden = make_project(personas.org, owner, "hidden", visibility="private").slug
    fav = make_project(personas.org, owner, "fav")
    client = personas.client("admin")
    client.put(project_url(fav.slug, "favorite/"))

    def slugs(query: str) -> set[str]:
        response = client.get(projects_url() + query)
        assert response.status_code == 200, response.content
        return {p["slug"] for p in response.json()["results"]}

    assert slugs("?tag=api") == {"tagged"}
    assert slugs("?visibility=private") == {hidden}
    assert slugs("?favorite=true") == {"fav"}
    assert slugs("?favorite=false") == {"tagged", hidden}


def test_archived_projects_are_listed_only_when_asked_for(personas):
    owner = personas.users["owner"]
    make_project(personas.org, owner, "live")
    make_project(personas.org, owner, "old")
    personas.client("admin").post(project_url("old", "archive/"))
    client = personas.client("member")

    def slugs(query: str = "") -> set[str]:
        return {p["slug"] for p in client.get(projects_url() + query).json()["results"]}

    assert slugs() == {"live"}
    assert slugs("?archived=false") == {"live"}
    assert slugs("?archived=true") == {"old"}


def test_a_bad_filter_value_is_a_400(personas):
    response = personas.client("member").get(projects_url() + "?visibility=public")
    assert response.status_code == 400


# --- read and update ------------------------------------------------------------------------------


def test_every_member_role_reads_a_project(personas):
    make_project(personas.org, personas.users["owner"], "demo", settings={"a": 1})
    for persona in ("owner", "admin", "member", "viewer", "billing"):
        response = personas.client(persona).get(project_url("demo"))
        assert response.status_code == 200, persona
        assert response.json()["settings"] == {"a": 1}


def test_a_member_updates_a_project_and_it_is_audited(personas):
    make_project(personas.org, personas.users["owner"], "demo")
    response = personas.client("member").patch(
        project_url("demo"),
        {"name": "Demo 2", "tags": ["x"], "settings": {"lint": True}, "description": "d"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Demo 2"
    assert response.json()["settings"] == {"lint": True}
    [event] = audit_events(personas.org, "project.updated")
    assert set(event.changes) == {"name", "tags", "settings", "description"}


def test_an_update_that_changes_nothing_is_not_audited(personas):
    make_project(personas.org, personas.users["owner"], "demo")
    response = personas.client("member").patch(project_url("demo"), {"name": "Demo"}, format="json")
    assert response.status_code == 200
    assert audit_actions(personas.org, "project.updated") == []


def test_renaming_the_slug_moves_the_project(personas):
    make_project(personas.org, personas.users["owner"], "demo")
    client = personas.client("member")
    assert client.patch(project_url("demo"), {"slug": "demo-2"}, format="json").status_code == 200
    assert client.get(project_url("demo")).status_code == 404
    assert client.get(project_url("demo-2")).status_code == 200


def test_changing_visibility_needs_an_org_admin(personas):
    make_project(personas.org, personas.users["owner"], "demo")
    refused = personas.client("member").patch(
        project_url("demo"), {"visibility": "private"}, format="json"
    )
    allowed = personas.client("admin").patch(
        project_url("demo"), {"visibility": "private"}, format="json"
    )
    assert refused.status_code == 403
    assert allowed.status_code == 200
    assert allowed.json()["slug"].startswith("demo-")  # private: an unguessable slug
    assert _project(allowed.json()["slug"]).visibility == "private"


WRITES = [
    ("PATCH", "", {"name": "x"}),
    ("DELETE", "", None),
    ("POST", "archive/", None),
    ("POST", "files/", {"path": "b.txt", "content": "b"}),
    ("PATCH", "files/{file}/", {"content": "changed"}),
    ("DELETE", "files/{file}/", None),
    ("POST", "files/{file}/restore/", {"revision": 1}),
    ("POST", "snapshots/", {"name": "s2"}),
    ("POST", "snapshots/{snapshot}/restore/", None),
    ("POST", "members/", {"user": "member@acme.test", "role": "viewer"}),
]


@pytest.mark.parametrize(("method", "rest", "body"), WRITES, ids=[f"{m} {r}" for m, r, _ in WRITES])
def test_a_viewer_cannot_write(personas, method, rest, body):
    world = workspace(personas)
    url = project_url("matrix", rest.format(file=world["file"].pk, snapshot=world["snapshot"].pk))
    response = personas.client("viewer").generic(
        method,
        url,
        data="{}" if body is None else json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 403, response.content
    assert error_code(response) == "permission_denied"


# --- archive --------------------------------------------------------------------------------------


def test_an_archived_project_refuses_writes_until_unarchived(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    make_file(project, "a.txt", "a")
    admin, member = personas.client("admin"), personas.client("member")

    archived = admin.post(project_url("demo", "archive/"))
    refused = member.post(project_url("demo", "files/"), {"path": "b.txt"}, format="json")
    still_readable = member.get(project_url("demo", "files/"))
    unarchived = admin.delete(project_url("demo", "archive/"))
    allowed = member.post(project_url("demo", "files/"), {"path": "b.txt"}, format="json")

    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert refused.status_code == 409 and error_code(refused) == "project_archived"
    assert still_readable.status_code == 200
    assert unarchived.status_code == 200 and unarchived.json()["archived"] is False
    assert allowed.status_code == 201
    assert audit_actions(personas.org, "project.") == [
        "project.created",
        "project.archived",
        "project.unarchived",
    ]


def test_archiving_twice_changes_nothing_the_second_time(personas):
    make_project(personas.org, personas.users["owner"], "demo")
    admin = personas.client("admin")
    first = admin.post(project_url("demo", "archive/")).json()["archived_at"]
    second = admin.post(project_url("demo", "archive/")).json()["archived_at"]
    assert first == second
    assert audit_actions(personas.org, "project.archived") == ["project.archived"]


def test_a_member_cannot_archive_or_delete(personas):
    make_project(personas.org, personas.users["owner"], "demo")
    client = personas.client("member")
    assert client.post(project_url("demo", "archive/")).status_code == 403
    assert client.delete(project_url("demo")).status_code == 403


# --- favorites ------------------------------------------------------------------------------------


def test_favorite_is_idempotent_both_ways(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    client = personas.client("viewer")

    statuses = [client.put(project_url("demo", "favorite/")).status_code for _ in range(2)]
    assert statuses == [204, 204]
    assert count_past_rls("projects_favorite", project_id=project.pk) == 1
    assert client.get(project_url("demo")).json()["favorite"] is True

    statuses = [client.delete(project_url("demo", "favorite/")).status_code for _ in range(2)]
    assert statuses == [204, 204]
    assert count_past_rls("projects_favorite", project_id=project.pk) == 0


def test_favorites_are_personal(personas):
    make_project(personas.org, personas.users["owner"], "demo")
    personas.client("viewer").put(project_url("demo", "favorite/"))
    assert personas.client("member").get(project_url("demo")).json()["favorite"] is False
    with service_context(reason="test read"):
        assert list(Favorite.objects.values_list("user__email", flat=True)) == ["viewer@acme.test"]


def test_an_archived_project_can_still_be_starred(personas):
    make_project(personas.org, personas.users["owner"], "demo")
    personas.client("admin").post(project_url("demo", "archive/"))
    assert personas.client("member").put(project_url("demo", "favorite/")).status_code == 204


# --- delete ---------------------------------------------------------------------------------------


def test_deleting_a_project_takes_all_its_history_with_it(personas):
    owner = personas.users["owner"]
    project = make_project(personas.org, owner, "demo")
    file = make_file(project, "a.txt", "one")
    save_file(file, "two")
    make_snapshot(project, "s1", actor=owner)
    personas.client("member").put(project_url("demo", "favorite/"))
    keep = make_project(personas.org, owner, "keep")
    make_file(keep, "k.txt", "k")

    response = personas.client("admin").delete(project_url("demo"))

    assert response.status_code == 204
    for table in (
        "projects_project",
        "projects_projectfile",
        "projects_filerevision",
        "projects_snapshot",
        "projects_snapshotentry",
        "projects_favorite",
    ):
        column = "id" if table == "projects_project" else "project_id"
        assert count_past_rls(table, **{column: project.pk}) == 0, table
    assert count_past_rls("projects_filerevision", project_id=keep.pk) == 1
    assert audit_actions(personas.org, "project.deleted") == ["project.deleted"]
    assert personas.client("admin").get(project_url("demo")).status_code == 404


# --- other tenants --------------------------------------------------------------------------------


def _project_routes():
    """Every route under a project whose URL the makers can fill: all the workspace
    routes, and the other project routes that need nothing but the project."""
    routes = []
    for route in org_routes():
        if "project_slug" not in route.kwargs:
            continue
        fillable = set(route.kwargs) <= {"org_slug", *WORKSPACE_MAKERS}
        if route.view_class.__module__ == "projects.api.workspace_views":
            assert fillable, f"{route}: a workspace kwarg without a maker"
        if fillable:
            routes.extend((route, method) for method in methods_of(route.view_class))
    return routes


def _fill(pattern: str, personas) -> str:
    path = pattern.replace("<slug:org_slug>", "acme")
    for kwarg, maker in WORKSPACE_MAKERS.items():
        for converter in ("slug", "uuid", "int"):
            token = f"<{converter}:{kwarg}>"
            if token in path:
                path = path.replace(token, maker(personas))
    assert "<" not in path, path
    return "/" + path


def test_a_globex_member_gets_404_for_every_acme_project_url(personas):
    routes = _project_routes()
    assert len(routes) >= 20
    outsider = client_for(personas.users["outsider"])
    for route, method in routes:
        url = _fill(route.pattern, personas)
        response = outsider.generic(method, url, data="{}", content_type="application/json")
        assert response.status_code == 404, (method, url, response.content)
        assert error_code(response) == "not_found"
        # Naming their own organization does not help either.
        own = outsider.generic(
            method,
            url.replace("/orgs/acme/", "/orgs/globex/"),
            data="{}",
            content_type="application/json",
        )
        assert own.status_code == 404, (method, url, own.content)
    assert _project("matrix").archived_at is None
