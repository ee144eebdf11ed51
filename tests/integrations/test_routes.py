"""The integrations routes answer as the issue says (``expected_routes.py``, written from
the issue's words), independently of the views' scope maps and the matrix."""

from __future__ import annotations

from organizations.api.routes import methods_of, org_routes
from organizations.permissions import MATRIX
from tests.integrations.expected_routes import EXPECTED_ROUTES


def _integrations_routes() -> dict[str, frozenset[str]]:
    out = {}
    for route in org_routes():
        if not route.view_class.__module__.startswith("integrations."):
            continue
        for method in methods_of(route.view_class):
            action = route.view_class.required_action(method)
            out[f"{method} {route.pattern}"] = MATRIX[action].roles
    return out


def test_every_integrations_route_is_expected_and_allows_exactly_the_expected_roles():
    actual = _integrations_routes()
    assert set(actual) == set(EXPECTED_ROUTES)
    for key, roles in EXPECTED_ROUTES.items():
        assert actual[key] == roles, key
