"""Full-text search across projects, files and knowledge documents."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organizations.tenancy import service_context
from projects.models import Project, ProjectMember
from projects.services.files import file_delete
from tests.projects.support import (
    add_project_member,
    make_asset,
    make_file,
    make_project,
    search_url,
)

pytestmark = pytest.mark.django_db


def search(personas, query, persona="member", org_slug="acme"):
    response = personas.client(persona).get(search_url(org_slug=org_slug), query)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def found(results):
    return [(hit["type"], hit["title"]) for hit in results]


def test_search_finds_a_project_by_its_description(personas):
    make_project(
        personas.org,
        personas.users["owner"],
        "atlas",
        name="Atlas",
        description="Maps of the ocean floor",
    )

    results = search(personas, {"q": "ocean"})

    assert found(results) == [("project", "Atlas")]
    assert results[0]["project"]["slug"] == "atlas"
    assert "<mark>ocean</mark>" in results[0]["headline"]


def test_search_finds_a_file_by_its_content(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    make_file(project, "src/billing.py", "def compute_invoice_totals():\n    pass\n")
    make_file(project, "src/other.py", "print('unrelated')\n")

    results = search(personas, {"q": "invoice"})

    assert found(results) == [("file", "src/billing.py")]
    assert results[0]["path"] == "src/billing.py"
    assert results[0]["project"] == {"id": str(project.id), "slug": "demo", "name": "Demo"}


def test_search_ignores_deleted_files(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    file = make_file(project, "gone.txt", "zeppelin")
    with service_context(reason="test fixture"):
        file_delete(actor=personas.users["owner"], file=file)

    assert search(personas, {"q": "zeppelin"}) == []


def test_search_finds_knowledge_documents_but_not_other_uploads(personas, media_root):
    project = make_project(personas.org, personas.users["owner"], "demo")
    member = personas.users["member"]
    make_asset(
        project,
        member,
        name="style.md",
        content=b"# Style guide\nAlways use tabs for indentation.\n",
        content_type="text/markdown",
        kind="knowledge",
        title="Style guide",
    )
    make_asset(project, member, name="plain.txt", content=b"indentation matters here too\n")

    results = search(personas, {"q": "indentation"})

    assert found(results) == [("knowledge", "Style guide")]
    assert "<mark>indentation</mark>" in results[0]["headline"]


def test_a_private_projects_files_are_hidden_from_members_not_on_it(personas):
    private = make_project(
        personas.org, personas.users["owner"], "secret", visibility=Project.Visibility.PRIVATE
    )
    make_file(private, "plan.md", "the quokka initiative")
    public = make_project(personas.org, personas.users["owner"], "open")
    make_file(public, "notes.md", "quokka sightings")

    assert found(search(personas, {"q": "quokka"}, "member")) == [("file", "notes.md")]
    assert found(search(personas, {"q": "quokka"}, "viewer")) == [("file", "notes.md")]
    assert sorted(found(search(personas, {"q": "quokka"}, "admin"))) == [
        ("file", "notes.md"),
        ("file", "plan.md"),
    ]


def test_a_private_project_is_found_by_its_project_members(personas):
    private = make_project(
        personas.org,
        personas.users["owner"],
        "secret",
        name="Secret",
        visibility=Project.Visibility.PRIVATE,
    )
    make_file(private, "plan.md", "the quokka initiative")
    add_project_member(
        private, personas.users["viewer"], ProjectMember.Role.VIEWER, actor=personas.users["owner"]
    )

    assert sorted(found(search(personas, {"q": "secret quokka"}, "member"))) == []
    assert found(search(personas, {"q": "quokka"}, "viewer")) == [("file", "plan.md")]
    assert found(search(personas, {"q": "secret"}, "viewer")) == [("project", "Secret")]


def test_another_organizations_data_is_never_found(personas):
    make_file(
        make_project(personas.other_org, personas.users["outsider"], "theirs"), "x.md", "platypus"
    )

    assert search(personas, {"q": "platypus"}, "owner") == []
    assert found(search(personas, {"q": "platypus"}, "outsider", "globex")) == [("file", "x.md")]


def test_a_member_of_another_org_gets_404(personas):
    response = personas.client("outsider").get(search_url(), {"q": "anything"})

    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["viewer", "billing"])
def test_everyone_in_the_org_may_search(personas, persona):
    make_project(personas.org, personas.users["owner"], "atlas", description="ocean maps")

    assert len(search(personas, {"q": "ocean"}, persona)) == 1


def test_types_restrict_what_is_searched(personas):
    project = make_project(
        personas.org, personas.users["owner"], "kelp", name="Kelp", description="kelp forests"
    )
    make_file(project, "kelp.md", "kelp kelp kelp")

    assert found(search(personas, {"q": "kelp", "types": "project"})) == [("project", "Kelp")]
    assert found(search(personas, {"q": "kelp", "types": "file"})) == [("file", "kelp.md")]


def test_results_are_ranked_best_first(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    make_file(project, "once.md", "a walrus appeared. " + "filler text. " * 40)
    make_file(project, "often.md", "walrus walrus walrus: the walrus report on walrus")

    results = search(personas, {"q": "walrus", "types": "file"})

    assert [hit["title"] for hit in results] == ["often.md", "once.md"]
    assert results[0]["rank"] > results[1]["rank"]


def test_websearch_syntax_is_understood(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    make_file(project, "a.md", "red panda")
    make_file(project, "b.md", "red fox")

    assert found(search(personas, {"q": "red -fox", "types": "file"})) == [("file", "a.md")]
    assert found(search(personas, {"q": '"red panda"', "types": "file"})) == [("file", "a.md")]


def test_results_come_in_pages_of_page_size(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    for n in range(8):
        make_file(project, f"f{n}.md", "narwhal")

    assert len(search(personas, {"q": "narwhal", "page_size": "5"})) == 5
    assert len(search(personas, {"q": "narwhal"})) == 8


def test_the_next_cursor_walks_every_hit_once_in_rank_order(personas):
    # One occurrence of the word each: a project, five files and two documents all rank
    # the same, so pages break inside ties, within a kind and across kinds.
    project = make_project(
        personas.org, personas.users["owner"], "pod", name="Pod", description="orca"
    )
    for n in range(5):
        make_file(project, f"f{n}.md", "orca")
    make_file(project, "best.md", "orca orca orca orca: orca")
    for n in range(2):
        make_asset(
            project,
            personas.users["member"],
            name=f"k{n}.md",
            content=b"orca\n",
            content_type="text/markdown",
            kind="knowledge",
            title=f"Notes {n}",
        )
    client = personas.client("member")
    everything = client.get(search_url(), {"q": "orca", "page_size": "100"}).json()
    assert everything["next"] is None and len(everything["results"]) == 9
    assert len({hit["rank"] for hit in everything["results"]}) == 2  # the ties are real

    seen, url, params = [], search_url(), {"q": "orca", "page_size": "3"}
    while url:
        page = client.get(url, params).json()
        assert set(page) == {"next", "previous", "results"} and page["previous"] is None
        assert len(page["results"]) <= 3
        seen += [(hit["type"], hit["id"]) for hit in page["results"]]
        url, params = page["next"], None

    assert seen == [(hit["type"], hit["id"]) for hit in everything["results"]]
    ranks = [hit["rank"] for hit in everything["results"]]
    assert ranks == sorted(ranks, reverse=True)


@pytest.mark.parametrize("cursor", ["bm9wZQ", "W10", "WzEsInNoaXAiLCJ4Il0", "!!"])
def test_a_forged_search_cursor_is_a_404(personas, cursor):
    response = personas.client("member").get(search_url(), {"q": "x", "cursor": cursor})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_headlines_are_html_escaped(personas):
    project = make_project(personas.org, personas.users["owner"], "demo")
    make_file(project, "x.html", "<img src=x onerror=alert(1)> the lemur & friends")

    [hit] = search(personas, {"q": "lemur"})

    assert "<img" not in hit["headline"]
    assert hit["headline"].endswith("&gt; the <mark>lemur</mark> &amp; friends")


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 201},
        {"q": "ok", "types": "project,spaceships"},
        {"q": "ok", "types": ""},
        {"q": "ok", "page_size": "0"},
        {"q": "ok", "page_size": "101"},
        {"q": "ok", "sort": "name"},
        {"q": "ok", "limit": "5"},
    ],
)
def test_bad_queries_are_a_400(personas, query):
    response = personas.client("member").get(search_url(), query)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_a_query_of_only_stop_words_finds_nothing(personas):
    make_project(personas.org, personas.users["owner"], "demo", description="the and of")

    assert search(personas, {"q": "the"}) == []


def test_search_costs_a_fixed_number_of_queries(personas):
    project = make_project(personas.org, personas.users["owner"], "demo", description="capybara")
    client = personas.client("member")

    def measure():
        client.get(search_url(), {"q": "capybara"})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(search_url(), {"q": "capybara"})
        return len(queries), len(response.json()["results"])

    make_file(project, "one.md", "capybara")
    few = measure()
    for n in range(10):
        make_file(project, f"more{n}.md", "capybara")
    many = measure()

    assert (few[1], many[1]) == (2, 12)
    assert few[0] == many[0]
