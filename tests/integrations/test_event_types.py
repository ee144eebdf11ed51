"""The webhook event-type catalog (issue 22 §2): served to clients, enforced on endpoint
writes, and kept equal to the organization-level actions the sources audit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

from integrations.event_types import EVENT_TYPES, SUBSCRIBABLE
from tests.api.test_conventions import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/orgs/acme/webhooks/"
APPS = ("accounts", "organizations", "audit", "projects", "sites", "billing", "integrations")
# Actions that belong to no organization (personal, staff, platform): never webhooks.
NOT_ORGANIZATION_EVENTS_PREFIXES = ("user.", "staff.", "system.", "platform_secret.")
# f-string actions, with every value they take.
TEMPLATES = {
    "{}.created": {"component.created", "section.created", "template.created"},
    "{}.updated": {"component.updated", "section.updated", "template.updated"},
    "{}.deleted": {"component.deleted", "section.deleted", "template.deleted"},
    "integration_job.{}": {"integration_job.succeeded", "integration_job.partial"},
}


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def audited_actions() -> set[str]:
    """Every action passed to ``audit_record`` in the project's apps."""
    found: set[str] = set()
    for app in APPS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            assigned: dict[str, set[str]] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            assigned.setdefault(target.id, set()).update(_strings(node.value))
                        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                            # action, state = "page.published", LIVE
                            for name, value in zip(target.elts, node.value.elts, strict=False):
                                if isinstance(name, ast.Name):
                                    assigned.setdefault(name.id, set()).update(_strings(value))
            for node in ast.walk(tree):
                if not (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) == "audit_record"
                ):
                    continue
                for keyword in node.keywords:
                    if keyword.arg != "action":
                        continue
                    value = keyword.value
                    if isinstance(value, ast.JoinedStr):
                        template = "".join(
                            part.value if isinstance(part, ast.Constant) else "{}"
                            for part in value.values
                        )
                        assert template in TEMPLATES, f"{path}: add {template!r} to TEMPLATES"
                        found |= TEMPLATES[template]
                    elif isinstance(value, ast.Name):
                        found |= assigned[value.id]
                    else:
                        found |= _strings(value)
    return found


def test_the_catalog_is_exactly_the_organization_actions_the_sources_audit():
    actions = {a for a in audited_actions() if not a.startswith(NOT_ORGANIZATION_EVENTS_PREFIXES)}
    assert len(actions) > 80  # the scan found the call sites
    assert actions - set(EVENT_TYPES) == set(), "audited but not in integrations/event_types.py"
    assert set(EVENT_TYPES) - actions - {"webhook.test"} == set(), "catalogued but never audited"


def test_the_catalog_is_served_with_descriptions_to_any_signed_in_user(personas):
    response = personas.client("viewer").get("/api/v1/webhooks/event-types/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [t["name"] for t in body["results"]] == sorted(EVENT_TYPES)
    assert {"name": "project.created", "description": "A project was created."} in body["results"]
    assert body["all"] == "*"


def test_the_catalog_needs_a_signed_in_user(client):
    assert_error(client.get("/api/v1/webhooks/event-types/"), 401, "not_authenticated")


@pytest.mark.parametrize("method", ["post", "patch"])
def test_an_unknown_event_type_is_a_400_listing_the_valid_ones(personas, settings, method):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    client = personas.client("admin")
    url = URL
    if method == "patch":
        created = client.post(
            URL, {"url": "http://127.0.0.1:9/x", "event_types": ["*"]}, format="json"
        )
        url = f"{URL}{created.json()['id']}/"

    response = getattr(client, method)(
        url,
        {"url": "http://127.0.0.1:9/x", "event_types": ["project.created", "bogus.event"]},
        format="json",
    )

    error = assert_error(response, 400, "validation_error")
    [message] = error["details"]["event_types"]["1"]
    assert message.startswith('"bogus.event" is not a valid choice; valid: *, api_key.created, ')
    assert "webhook.updated" in message


def test_the_schema_types_event_types_as_an_enum(client):
    schema = client.get("/api/schema/?format=json").json()
    enum = schema["components"]["schemas"]["EventTypeEnum"]["enum"]
    assert enum == list(SUBSCRIBABLE)
    create = schema["components"]["schemas"]["WebhookEndpointCreateRequest"]
    assert create["properties"]["event_types"]["items"] == {
        "$ref": "#/components/schemas/EventTypeEnum"
    }
