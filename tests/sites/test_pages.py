"""Pages: ETags, locks, sanitized content, inlined components, versions, the live site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sites.models import Page, PageAnalyticsDaily, Template
from tests.sites.makers import sites_world
from tests.sites.support import (
    count,
    deploy_now,
    get,
    make_page,
    make_site,
    page_url,
    public_get,
    publish,
    site_url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def home(personas):
    site = make_site(personas.org, personas.users["owner"])
    return make_page(site, personas.users["owner"], body="draft one")


def test_a_stale_if_match_is_a_412_and_changes_nothing(personas, home):
    member = personas.client("member")
    etag = member.get(page_url(home.id))["ETag"]
    first = member.patch(page_url(home.id), {"title": "A"}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200
    stale = member.patch(page_url(home.id), {"title": "B"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    assert stale.json()["error"]["details"]["etag"] == first["ETag"]
    assert get(Page, id=home.id).title == "A"


def test_a_write_without_if_match_is_a_428(personas, home):
    response = personas.client("member").patch(page_url(home.id), {"title": "B"}, format="json")
    assert response.status_code == 428
    assert response.json()["error"]["code"] == "precondition_required"


def test_a_locked_page_refuses_others_with_423_until_its_holder_or_an_admin_unlocks(personas, home):
    member, owner_client = personas.client("member"), personas.client("owner")
    assert member.post(page_url(home.id, "lock/")).status_code == 200
    etag = owner_client.get(page_url(home.id))["ETag"]
    refused = owner_client.patch(
        page_url(home.id), {"title": "X"}, format="json", HTTP_IF_MATCH=etag
    )
    assert refused.status_code == 423
    assert refused.json()["error"]["code"] == "page_locked"
    assert owner_client.post(page_url(home.id, "publish/")).status_code == 423
    # the holder writes; an admin may unlock
    mine = member.patch(page_url(home.id), {"title": "M"}, format="json", HTTP_IF_MATCH=etag)
    assert mine.status_code == 200
    assert owner_client.delete(page_url(home.id, "lock/")).status_code == 200
    assert get(Page, id=home.id).locked_by_id is None


def test_another_member_cannot_unlock_a_page(personas, home):
    personas.client("admin").post(page_url(home.id, "lock/"))
    response = personas.client("member").delete(page_url(home.id, "lock/"))
    assert response.status_code == 423
    assert get(Page, id=home.id).locked_by_id == personas.users["admin"].id


def test_rich_text_is_sanitized_at_save(personas, home):
    member = personas.client("member")
    etag = member.get(page_url(home.id))["ETag"]
    html = '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:x">l</a></p>'
    response = member.patch(
        page_url(home.id),
        {"content": [{"type": "rich_text", "html": html}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    stored = response.json()["content"][0]["html"]
    assert "<script" not in stored and "onclick" not in stored and "javascript:" not in stored
    assert "<p>Hi" in stored


def test_invalid_blocks_are_a_400(personas, home):
    member = personas.client("member")
    etag = member.get(page_url(home.id))["ETag"]
    for content in (
        [{"type": "marquee"}],
        [{"type": "image", "src": "javascript:alert(1)"}],
        [{"type": "columns", "columns": [[{"type": "columns", "columns": [[]]}]]}],
        "not a list",
    ):
        response = member.patch(
            page_url(home.id), {"content": content}, format="json", HTTP_IF_MATCH=etag
        )
        assert response.status_code == 400, content


def test_a_published_version_keeps_the_component_as_it_was(personas):
    world = sites_world(personas)
    component = world["component"]
    admin = personas.client("admin")
    admin.patch(
        f"/api/v1/orgs/acme/components/{component.id}/",
        {"content": [{"type": "button", "label": "Changed later", "href": "/x"}]},
        format="json",
    )
    version = admin.get(page_url(world["page"].id, "versions/1/", site="matrix-site")).json()
    inlined = version["content"][1]
    assert inlined["component"] == str(component.id)
    assert inlined["blocks"][0]["label"] == "Buy"
    page = public_get("/p/acme/matrix-site/")
    assert b"Buy" in page.content and b"Changed later" not in page.content


def test_versions_list_diff_and_revert(personas, home):
    owner = personas.users["owner"]
    site = home.site
    publish(site, home, owner, message="one")
    member = personas.client("member")
    etag = member.get(page_url(home.id))["ETag"]
    member.patch(
        page_url(home.id),
        {"content": [{"id": "b2", "type": "text", "text": "draft two"}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    member.post(page_url(home.id, "publish/"), {"message": "two"}, format="json")
    listed = member.get(page_url(home.id, "versions/")).json()["results"]
    assert [(v["number"], v["message"]) for v in listed] == [(2, "two"), (1, "one")]
    assert listed[0]["sha256"] != listed[1]["sha256"]
    diff = member.get(page_url(home.id, "versions/diff/"), {"from": 1, "to": 2}).json()
    assert "-" in diff["diff"] and "draft two" in diff["diff"]
    assert diff["blocks"]["added"] == ["b2"]
    reverted = member.post(page_url(home.id, "versions/1/revert/"))
    assert reverted.status_code == 200
    body = reverted.json()
    assert body["content"][0]["text"] == "draft one"
    assert body["has_unpublished_changes"] is True and body["live_version"] == 2


def test_the_live_site_404s_unknown_paths_and_410s_archived_sites(personas):
    world = sites_world(personas)
    assert public_get("/p/acme/matrix-site/nowhere/").status_code == 404
    assert public_get("/p/acme/no-such-site/").status_code == 404
    assert public_get("/p/globex/matrix-site/").status_code == 404
    assert personas.client("admin").post(site_url("matrix-site", "archive/")).status_code == 200
    gone = public_get("/p/acme/matrix-site/")
    assert gone.status_code == 410
    assert world["site"].slug == "matrix-site"


def test_a_published_but_undeployed_page_is_not_live(personas):
    owner = personas.users["owner"]
    world = sites_world(personas)
    page = make_page(world["site"], owner, path="/about", body="about us", title="About")
    publish(world["site"], page, owner)
    assert public_get("/p/acme/matrix-site/about").status_code == 404
    deploy_now(world["site"], owner)
    about = public_get("/p/acme/matrix-site/about/")
    assert about.status_code == 200 and b"<title>About</title>" in about.content


def test_each_served_page_counts_a_view_and_no_ip_is_stored(personas):
    world = sites_world(personas)
    for _ in range(3):
        public_get("/p/acme/matrix-site/", REMOTE_ADDR="203.0.113.9")
    public_get("/p/acme/matrix-site/", REMOTE_ADDR="198.51.100.7")
    public_get("/p/acme/matrix-site/missing")
    row = get(PageAnalyticsDaily, page=world["page"])
    assert (row.views, row.visitors) == (4, 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(a)::text FROM sites_pageanalyticsdaily a")
        assert not any("203.0.113" in text for (text,) in cursor.fetchall())
    analytics = personas.client("viewer").get(site_url("matrix-site", "analytics/")).json()
    assert analytics["results"][0]["views"] == 4


def test_a_site_from_another_orgs_public_template_gets_a_copy(personas):
    world = sites_world(personas)
    admin = personas.client("admin")
    template = world["template"]
    admin.patch(f"/api/v1/orgs/acme/templates/{template.id}/", {"is_public": True}, format="json")
    public = personas.client("outsider").get("/api/v1/templates/").json()["results"]
    assert [t["slug"] for t in public] == ["matrix-template"]
    # The picker shows what the template contains: its pages and their blocks.
    assert (public[0]["page_count"], public[0]["block_count"]) == (1, 2)
    assert public[0]["contents"] == [{"path": "/", "title": "Matrix home", "blocks": 2}]

    created = personas.client("outsider").post(
        "/api/v1/orgs/globex/sites/",
        {"name": "Copy", "slug": "copy", "template": str(template.id)},
        format="json",
    )
    assert created.status_code == 201, created.json()
    copy = get(Template, organization=personas.other_org)
    assert (copy.copied_from_id, copy.is_public) == (template.id, False)
    assert created.json()["template"] == str(copy.id)
    assert count(Page, site__slug="copy", organization=personas.other_org) == 1


LISTS = [
    "sites/",
    "sites/matrix-site/pages/",
    "sites/matrix-site/deployments/",
    "sites/matrix-site/domains/",
    "sites/matrix-site/analytics/",
    "components/",
    "sections/",
    "templates/",
]


@pytest.mark.parametrize("path", LISTS)
def test_list_query_counts_do_not_grow_with_the_rows(personas, path):
    world = sites_world(personas)
    owner = personas.users["owner"]
    client = personas.client("viewer")
    url = f"/api/v1/orgs/acme/{path}"
    client.get(url)  # warm up
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(3):
        site = make_site(personas.org, owner, f"more-{n}")
        make_page(world["site"], owner, path=f"/more-{n}")
        publish(site, make_page(site, owner), owner)
        deploy_now(world["site"], owner, environment="preview")
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few), path


def test_a_page_list_item_is_the_detail_document_without_content_and_seo(personas):
    """The list is built from ``.values()`` rows, the detail by ``PageDetailSerializer``."""
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    live = make_page(site, owner, path="/live", title="Live")
    publish(site, live, owner, expire_at=datetime.now(UTC) + timedelta(days=3))
    publish(site, live, owner, go_live_at=datetime.now(UTC) + timedelta(hours=2))
    scheduled = make_page(site, owner, path="/later", title="Later")
    publish(site, scheduled, owner, go_live_at=datetime.now(UTC) + timedelta(days=1))
    make_page(site, owner, path="/draft", title="Draft")
    assert personas.client("member").post(page_url(live.id, "lock/")).status_code == 200
    client = personas.client("viewer")

    listed = client.get(site_url("shop", "pages/")).json()["results"]
    assert [item["path"] for item in listed] == ["/draft", "/later", "/live"]
    by_path = {item["path"]: item for item in listed}
    assert by_path["/live"]["locked_by"]["id"] == str(personas.users["member"].id)
    assert (by_path["/live"]["live_version"], by_path["/live"]["scheduled_version"]) == (1, 2)
    assert by_path["/later"]["status"] == "scheduled" and by_path["/later"]["go_live_at"]
    for item in listed:
        detail = client.get(page_url(item["id"])).json()
        assert item == {k: v for k, v in detail.items() if k not in ("content", "seo")}
    # filtered and paginated by path, from the same rows
    first = client.get(site_url("shop", "pages/"), {"page_size": 1, "status": "draft"}).json()
    assert first["results"] == [by_path["/draft"]] and first["next"] is None
    paged = client.get(site_url("shop", "pages/"), {"page_size": 2}).json()
    assert paged["results"] == listed[:2]
    assert client.get(paged["next"]).json()["results"] == listed[2:]


def test_version_and_comment_list_query_counts_do_not_grow(personas):
    world = sites_world(personas)
    owner = personas.users["owner"]
    client = personas.client("viewer")
    page_id = world["page"].id
    urls = [
        page_url(page_id, "versions/", site="matrix-site"),
        page_url(page_id, "comments/", site="matrix-site"),
    ]
    before = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        before.append(len(queries))
    for n in range(3):
        publish(world["site"], world["page"], owner, message=f"again {n}")
        personas.client("member").post(
            page_url(page_id, "comments/", site="matrix-site"), {"body": f"c{n}"}, format="json"
        )
    after = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).json()["results"]
        after.append(len(queries))
    assert after == before


def test_sites_and_pages_are_in_the_organizations_search(personas):
    owner = personas.users["owner"]
    site = make_site(personas.org, owner, "aquarium")
    make_page(site, owner, path="/octopus-care", title="Octopus care")
    other = make_site(personas.other_org, personas.users["outsider"], "octopus-world")
    make_page(other, personas.users["outsider"], path="/octopus", title="Octopus")
    client = personas.client("viewer")

    found = client.get("/api/v1/orgs/acme/search/", {"q": "octopus"}).json()["results"]
    assert [(h["type"], h["title"], h["site"]["slug"]) for h in found] == [
        ("page", "Octopus care", "aquarium")
    ]
    assert found[0]["path"] == "/octopus-care" and found[0]["project"] is None
    sites = client.get("/api/v1/orgs/acme/search/", {"q": "aquarium", "types": "site"})
    assert [h["title"] for h in sites.json()["results"]] == ["Aquarium"]


def test_library_lists_filter_mine_and_public(personas):
    world = sites_world(personas)
    admin = personas.client("admin")
    admin.patch(
        f"/api/v1/orgs/acme/sections/{world['section'].id}/", {"is_public": True}, format="json"
    )
    outsider = personas.client("outsider")
    url = "/api/v1/orgs/globex/sections/"
    assert [s["name"] for s in outsider.get(url, {"mine": "false"}).json()["results"]] == [
        "Matrix hero"
    ]
    assert outsider.get(url, {"mine": "true"}).json()["results"] == []
    assert len(admin.get("/api/v1/orgs/acme/sections/", {"public": "true"}).json()["results"]) == 1


@pytest.mark.parametrize(
    "numbers, bad",
    [
        ((-1, 2), {"from"}),
        ((1, 2**31), {"to"}),
        ((-(2**100), 1), {"from"}),
        (("x", ""), {"from", "to"}),
    ],
)
def test_a_diff_of_impossible_version_numbers_is_a_400(personas, home, numbers, bad):
    """Found by the fuzzer: a number past PostgreSQL's integer failed in SQL (500)."""
    response = personas.client("member").get(
        page_url(home.id, "versions/diff/"), {"from": numbers[0], "to": numbers[1]}
    )
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]["details"]) == bad


def test_routes_under_a_site_do_not_read_its_creator_and_the_site_document_does(personas):
    """The site lookup every route under a site makes joins the creator's row only where
    the answer shows it (the site document), in the same statement (issue 21)."""
    sites_world(personas)
    client = personas.client("viewer")

    def site_statements(url: str) -> list[str]:
        client.get(url)  # warm up
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return [q["sql"] for q in queries if '"sites_site"' in q["sql"].split("WHERE")[0]]

    for path in ("pages/", "deployments/", "domains/"):
        statements = site_statements(f"/api/v1/orgs/acme/sites/matrix-site/{path}")
        assert statements and all('"accounts_user"' not in sql for sql in statements), path
    with CaptureQueriesContext(connection) as queries:
        detail = client.get("/api/v1/orgs/acme/sites/matrix-site/")
    assert detail.status_code == 200 and detail.json()["created_by"]["email"]
    site = [q["sql"] for q in queries if 'FROM "sites_site"' in q["sql"]]
    assert len(site) == 1 and '"accounts_user"' in site[0]
    lazy = [q for q in queries if q["sql"].lstrip().startswith('SELECT "accounts_user"')]
    assert not lazy  # the creator came with the site, not in a statement of its own
