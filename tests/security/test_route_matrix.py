"""The cross-tenant route matrix: every org-scoped route x method x persona.

Routes come from the URL configuration, so an endpoint added later is tried
here without anyone listing it. For each one:

* its view must be an ``OrgScopedAPIView`` and declare the action of every
  HTTP method it serves in ``scope_map``, and that action must be in the
  permission matrix — otherwise the suite fails ("missing from the matrix");
* anonymous -> 401; a member of another organization -> 404 and nothing in
  the database changes; a member whose role the matrix does not allow -> 403
  and nothing changes; an allowed role gets past authorization (not
  401/403/404, never 5xx).

URL kwargs naming an object (``membership_id`` ...) are filled by
:data:`OBJECT_MAKERS`; a new kwarg without a maker fails the suite.

Which roles are allowed comes from hand-kept tables (``EXPECTED_ROUTES`` in
``tests/security/expected_routes.py`` and, when they exist, in
``tests/<app>/expected_routes.py``), never from the views' ``scope_map`` or the
permission matrix: those are the code under test. A route with no expectation
fails the suite.
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from organizations.api.base import OrgScopedAPIView
from organizations.api.routes import methods_of, org_routes
from organizations.permissions import MATRIX
from organizations.rls.checks import guarded_tables
from tests.helpers import PERSONAS, ROLES, Personas, table_checksums
from tests.security.expected_routes import EXPECTED_ROUTES as CORE_EXPECTED_ROUTES
from tests.security.objects import OBJECT_MAKERS

ROUTE_METHODS = [
    (route, method) for route in org_routes() for method in methods_of(route.view_class)
]

# Apps whose tests may keep their own expectation table (written in parallel).
APPS_WITH_EXPECTATIONS = ("sites", "integrations", "billing", "realtime")


def _expected_routes() -> dict[str, frozenset[str]]:
    merged = dict(CORE_EXPECTED_ROUTES)
    for app in APPS_WITH_EXPECTATIONS:
        name = f"tests.{app}.expected_routes"
        if importlib.util.find_spec(name) is None:
            continue  # that app has no hand-kept table (yet): its routes then fail below
        table = getattr(importlib.import_module(name), "EXPECTED_ROUTES", None)
        if table is None:
            continue
        clash = merged.keys() & table.keys()
        assert not clash, f"routes expected by two tables: {sorted(clash)}"
        merged |= table
    return merged


EXPECTED_ROUTES = _expected_routes()


def _key(route, method: str) -> str:
    return f"{method} {route.pattern}"


def test_every_expectation_names_known_roles_and_an_existing_route():
    roles = {r.value for r in ROLES}
    for key, allowed in EXPECTED_ROUTES.items():
        assert allowed <= roles, f"{key}: unknown roles {sorted(allowed - roles)}"
    known = {_key(route, method) for route, method in ROUTE_METHODS}
    assert not EXPECTED_ROUTES.keys() - known, "expectations for routes that do not exist"


def test_there_are_org_scoped_routes_to_check():
    assert len(ROUTE_METHODS) >= 10


@pytest.mark.parametrize(
    ("route", "method"), ROUTE_METHODS, ids=[f"{m} {r}" for r, m in ROUTE_METHODS]
)
def test_route_is_declared_in_the_permission_matrix(route, method):
    assert issubclass(route.view_class, OrgScopedAPIView), f"{route} is not tenant-scoped"
    action = route.view_class.required_action(method)
    assert action is not None, f"{method} {route} has no action in scope_map"
    assert action in MATRIX, f"{method} {route}: action {action!r} is not in the matrix"
    assert _key(route, method) in EXPECTED_ROUTES, (
        f"no hand-kept expectation for {_key(route, method)!r}: add it to"
        " tests/security/expected_routes.py (or the app's tests/<app>/expected_routes.py)"
    )
    for kwarg in route.kwargs:
        assert kwarg == "org_slug" or kwarg in OBJECT_MAKERS, f"{route}: no maker for {kwarg}"


def _url(route, personas: Personas) -> str:
    path = route.pattern
    values = {"org_slug": personas.org.slug}
    for kwarg in route.kwargs:
        if kwarg != "org_slug":
            values[kwarg] = str(OBJECT_MAKERS[kwarg](personas))
    for name, value in values.items():
        for converter in ("slug", "uuid", "int", "str", "path"):
            path = path.replace(f"<{converter}:{name}>", value)
    return "/" + path


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("route", "method"), ROUTE_METHODS, ids=[f"{m} {r}" for r, m in ROUTE_METHODS]
)
def test_route_answers_each_persona_as_expected(route, method, persona, personas):
    key = _key(route, method)
    assert key in EXPECTED_ROUTES, f"no hand-kept expectation for {key!r}"
    url = _url(route, personas)
    tables = guarded_tables()
    before = table_checksums(tables)

    response = personas.client(persona).generic(
        method, url, data="{}", content_type="application/json"
    )

    assert response.status_code < 500, response.content
    body = response.json() if not response.streaming and response.content else {}
    if persona == "anonymous":
        assert response.status_code == 401
    elif persona == "outsider":
        assert response.status_code == 404, body
    elif persona not in EXPECTED_ROUTES[key]:
        assert response.status_code == 403, body
    else:
        assert response.status_code not in (401, 403, 404), body
        return
    assert set(body) == {"error"} and {"code", "message", "request_id"} <= set(body["error"])
    assert table_checksums(tables) == before, "a refused request changed data"
