"""Unknown query parameters on lists are a 400, as unknown body fields are: a typo in
a filter (``?rol=admin``) must not silently list everything."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from config.api.filters import allowed_query_params
from organizations.api.base import ListAPIMixin
from tests.api.test_conventions import assert_error

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/orgs/",
    "/api/v1/me/sessions/",
    "/api/v1/orgs/acme/members/",
    "/api/v1/orgs/acme/invitations/",
    "/api/v1/orgs/acme/audit-events/",
    "/api/v1/orgs/acme/projects/",
    "/api/v1/orgs/acme/search/?q=anything",
]


@pytest.mark.parametrize("url", LISTS)
def test_an_unknown_query_parameter_is_a_400_naming_it(personas, url):
    separator = "&" if "?" in url else "?"
    response = personas.client("owner").get(f"{url}{separator}rol=admin&page_size=2")

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"rol": ["Unknown query parameter."]}


def test_filters_pagination_and_range_suffixes_are_known(personas):
    client = personas.client("owner")
    assert client.get("/api/v1/orgs/acme/members/?role=viewer&page_size=1").status_code == 200
    first = client.get("/api/v1/orgs/acme/members/?page_size=1").json()
    assert client.get(first["next"]).status_code == 200  # the cursor parameter
    audit = client.get(
        "/api/v1/orgs/acme/audit-events/?created_after=2020-01-01T00:00:00Z&action_prefix=org."
    )
    assert audit.status_code == 200


def test_a_non_member_still_gets_a_404_not_a_400(personas):
    response = personas.client("outsider").get("/api/v1/orgs/acme/members/?rol=admin")
    assert_error(response, 404, "not_found")


def test_writes_to_a_list_route_are_not_checked_for_query_parameters(personas):
    response = personas.client("owner").post(
        "/api/v1/orgs/acme/invitations/?via=email",
        {"email": "someone@example.test", "role": "viewer"},
        format="json",
    )
    assert response.status_code == 201, response.content


def _list_views(patterns=None):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            yield from _list_views(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "view_class", None)
            if view is not None and issubclass(view, ListAPIMixin):
                yield view


def test_every_list_view_knows_its_filters_and_the_pagination_parameters():
    views = set(_list_views())
    assert len(views) >= 10
    for view_class in views:
        view = view_class()
        view.swagger_fake_view = True
        view.format_kwarg = None
        allowed = allowed_query_params(view)
        assert {"cursor", "page_size"} <= allowed, view_class
        filterset = getattr(view_class, "filterset_class", None)
        if filterset is not None:
            assert set(filterset.base_filters) <= allowed, view_class


def _org_list_routes():
    from organizations.api.routes import org_routes
    from projects.api.search_views import SearchView

    return [
        route
        for route in org_routes()
        if issubclass(route.view_class, ListAPIMixin | SearchView)
        and "GET" in route.view_class.scope_map
    ]


def test_there_are_org_lists_to_check():
    assert len(_org_list_routes()) >= 10


@pytest.mark.parametrize("route", _org_list_routes(), ids=str)
def test_every_org_list_refuses_an_unknown_query_parameter(route, personas):
    """Lists added later (sites, integrations, billing) are covered without listing them."""
    from tests.security.test_route_matrix import _url

    response = personas.client("owner").get(_url(route, personas) + "?no_such_filter=1")

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"no_such_filter": ["Unknown query parameter."]}
