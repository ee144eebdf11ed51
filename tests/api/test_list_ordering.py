"""``?ordering=`` on every list and ``?search=`` where a person searches (issue 22 §2):
one definition in ``config/api/filters.py``, cursor pagination kept."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.api.filters import allowed_query_params, ordering_choices, ordering_fields
from organizations.api.base import ListAPIMixin
from organizations.models import Membership
from organizations.permissions import Role
from organizations.tenancy import service_context
from tests.api.test_conventions import assert_error
from tests.api.test_query_params import _list_views, _org_list_routes
from tests.helpers import make_user

pytestmark = pytest.mark.django_db


def _view(view_class):
    view = view_class()
    view.swagger_fake_view = True
    view.format_kwarg = None
    return view


def test_every_list_offers_ordering_on_columns_the_cursor_can_hold():
    """Each offered ordering is a NOT NULL column of the row itself (or an ``F()``
    annotation): the cursor keeps the last row's value of it."""
    for view_class in set(_list_views()):
        view = _view(view_class)
        assert "ordering" in allowed_query_params(view), view_class
        model = view_class.queryset.model
        for name, column in ordering_fields(view).items():
            if isinstance(column, str):
                field = model._meta.get_field(column)
                assert field.concrete and not field.null and not field.is_relation, (
                    view_class,
                    name,
                )


def test_search_is_known_only_where_a_list_declares_what_it_searches():
    searched = {v for v in _list_views() if v.search_fields}
    assert {v.__name__ for v in searched} >= {
        "MemberListView",
        "ProjectListView",
        "SiteListView",
        "PageListView",
        "InvitationListView",
        "ApiKeyListView",
        "WebhookListView",
    }
    for view_class in set(_list_views()):
        assert ("search" in allowed_query_params(_view(view_class))) == (view_class in searched), (
            view_class
        )


def _ordered_org_list_routes():
    """Every org list but full-text search, which is ranked by relevance (docs/api.md)."""
    return [r for r in _org_list_routes() if issubclass(r.view_class, ListAPIMixin)]


@pytest.mark.parametrize("route", _ordered_org_list_routes(), ids=str)
def test_every_org_list_sorts_by_each_offered_field_and_refuses_others(route, personas):
    from tests.security.test_route_matrix import _url

    client = personas.client("owner")
    url = _url(route, personas)
    choices = ordering_choices(_view(route.view_class))

    error = assert_error(client.get(f"{url}?ordering=nonsense"), 400, "validation_error")
    assert error["details"] == {
        "ordering": [f"Unknown ordering 'nonsense'; one of: {', '.join(choices)}."]
    }
    for choice in choices:
        response = client.get(f"{url}?ordering={choice}&page_size=1")
        assert response.status_code == 200, (choice, response.content)
        if response.json()["next"]:
            assert client.get(response.json()["next"]).status_code == 200, choice


# --- members: ordering by a related column, search, and a cursor walk over ties --------


def _add_members(org, names):
    with service_context(reason="test fixture"):
        for email, name in names:
            Membership.objects.create(
                organization=org, user=make_user(email, name=name), role=Role.MEMBER
            )


def _walk(client, url):
    """Every row of the list, following ``next`` one row at a time."""
    rows, response = [], client.get(url)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        if not body["next"]:
            return rows
        response = client.get(body["next"])


def test_members_are_ordered_by_email_both_ways(personas):
    client = personas.client("viewer")
    emails = sorted(u.email for r, u in personas.users.items() if r != "outsider")

    ascending = client.get("/api/v1/orgs/acme/members/?ordering=email").json()["results"]
    descending = client.get("/api/v1/orgs/acme/members/?ordering=-email").json()["results"]

    assert [m["user"]["email"] for m in ascending] == emails
    assert [m["user"]["email"] for m in descending] == emails[::-1]


def test_a_cursor_walk_over_tied_values_returns_every_member_once_in_a_stable_order(personas):
    """Ten members share the role ``member``: the id tie-breaker keeps the cursor's
    offset among them pointing at the same rows from one page to the next."""
    _add_members(personas.org, [(f"tie{n}@acme.test", "Tie") for n in range(10)])
    client = personas.client("viewer")

    for ordering in ("role", "-role", "name", "-name"):
        rows = _walk(client, f"/api/v1/orgs/acme/members/?ordering={ordering}&page_size=1")
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)) == 15, ordering
        whole = client.get(f"/api/v1/orgs/acme/members/?ordering={ordering}&page_size=100")
        assert ids == [row["id"] for row in whole.json()["results"]], ordering


def test_members_search_by_name_or_email_every_word_must_match(personas):
    _add_members(
        personas.org, [("ada@acme.test", "Ada Lovelace"), ("grace@acme.test", "Grace Hopper")]
    )
    client = personas.client("viewer")

    def found(term):
        response = client.get("/api/v1/orgs/acme/members/?" + urlencode({"search": term}))
        assert response.status_code == 200, response.content
        return sorted(m["user"]["email"] for m in response.json()["results"])

    assert found("lovelace") == ["ada@acme.test"]
    assert found("GRACE") == ["grace@acme.test"]
    assert found("ada lovelace") == ["ada@acme.test"]
    assert found("ada hopper") == []
    assert found("acme.test") == sorted(
        [u.email for r, u in personas.users.items() if r != "outsider"]
        + ["ada@acme.test", "grace@acme.test"]
    )


@pytest.mark.parametrize("term", ["a\x00b", "x" * 201])
def test_a_search_postgresql_cannot_run_is_a_400_naming_the_parameter(personas, term):
    response = personas.client("viewer").get(
        "/api/v1/orgs/acme/members/?" + urlencode({"search": term})
    )
    error = assert_error(response, 400, "validation_error")
    assert list(error["details"]) == ["search"]


def test_a_list_without_search_refuses_the_parameter(personas):
    response = personas.client("owner").get("/api/v1/orgs/acme/audit-events/?search=x")
    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"search": ["Unknown query parameter."]}


def test_searching_and_ordering_members_costs_no_extra_query(personas):
    client = personas.client("viewer")
    plain, sorted_searched = (
        "/api/v1/orgs/acme/members/",
        ("/api/v1/orgs/acme/members/?ordering=-name&search=acme"),
    )
    counts = []
    for url in (plain, sorted_searched):
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- the .values() fast paths ---------------------------------------------------------


def test_projects_are_searched_and_ordered_by_name_on_the_values_path(personas):
    client = personas.client("owner")
    for name in ("Zeta tools", "Alpha site", "Beta tools"):
        response = client.post(
            "/api/v1/orgs/acme/projects/",
            {"name": name, "slug": name.split()[0].lower()},
            format="json",
        )
        assert response.status_code == 201, response.content

    names = [
        p["name"] for p in _walk(client, "/api/v1/orgs/acme/projects/?ordering=name&page_size=1")
    ]
    tools = client.get("/api/v1/orgs/acme/projects/?search=tools&ordering=-name").json()

    assert names == ["Alpha site", "Beta tools", "Zeta tools"]
    assert [p["name"] for p in tools["results"]] == ["Zeta tools", "Beta tools"]


def test_the_schema_lists_each_lists_orderings_as_an_enum_and_search_where_offered(client):
    schema = client.get("/api/schema/?format=json").json()
    members = schema["paths"]["/api/v1/orgs/{org_slug}/members/"]["get"]["parameters"]
    params = {p["name"]: p for p in members}
    assert params["ordering"]["schema"]["enum"] == [
        "created_at", "-created_at", "role", "-role", "email", "-email", "name", "-name"
    ]  # fmt: skip
    assert "user.email" in params["search"]["description"]
    audit = schema["paths"]["/api/v1/orgs/{org_slug}/audit-events/"]["get"]["parameters"]
    assert "search" not in {p["name"] for p in audit}


# --- docs/api.md lists each list's orderings and search fields ------------------------


def _list_routes(patterns=None, prefix=""):
    from django.urls import URLPattern, URLResolver, get_resolver

    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            yield from _list_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "view_class", None)
            if view is not None and issubclass(view, ListAPIMixin):
                yield prefix + str(entry.pattern), view


def lists_table() -> str:
    """The Markdown table of ``docs/api.md`` between the ``list-ordering`` markers."""
    import re

    lines = [
        "| list | default order | `ordering=` (each also with `-`) | `search=` looks in |",
        "|---|---|---|---|",
    ]
    for pattern, view_class in _list_routes():
        path = pattern.removeprefix("api/v1/").replace("orgs/<slug:org_slug>/", "…/")
        path = re.sub(r"<[a-z]+:([a-z_]+)>", r"{\1}", path)
        view = _view(view_class)
        default = view.paginator.ordering
        default = default if isinstance(default, str) else ",".join(default)
        orderings = ", ".join(f"`{name}`" for name in ordering_fields(view))
        searched = ", ".join(f"`{f.replace('__', '.')}`" for f in view_class.search_fields)
        lines.append(f"| `{path}` | `{default}` | {orderings} | {searched or '—'} |")
    return "\n".join(lines) + "\n"


def test_docs_api_md_lists_the_orderings_and_search_fields_of_every_list():
    from django.conf import settings

    text = (settings.BASE_DIR / "docs" / "api.md").read_text()
    begin, end = "<!-- list-ordering:begin -->\n", "<!-- list-ordering:end -->"
    documented = text[text.index(begin) + len(begin) : text.index(end)]
    assert documented == lists_table(), "docs/api.md is stale; the table should read:\n" + (
        lists_table()
    )
