"""Errors that say what to do next (issue 22 §3): one JSON envelope for every error under
``/api/``, invalid choices that list the valid ones, one code for field errors, errors
that name what was missing, quota messages in plain words."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.test_conventions import assert_error
from tests.integrations.support import stub_dns
from tests.integrations.test_api_keys import _create, _key_client
from tests.organizations.support import make_invitation, mint_token
from tests.sites.support import make_page, make_site, publish

pytestmark = pytest.mark.django_db

ROLES = "owner, admin, member, viewer, billing"


# --- unknown routes and methods under /api/ -------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_api_route_answers_the_json_envelope_even_with_debug(client, settings, debug):
    """With DEBUG (``make run``), Django's HTML page answered unknown API routes."""
    settings.DEBUG = debug
    response = client.get("/api/v1/no-such-thing/")

    error = assert_error(response, 404, "not_found")
    assert "/api/v1/no-such-thing/" in error["message"] and "/api/docs/" in error["message"]


def test_a_method_a_plain_django_view_refuses_answers_405_in_the_envelope(client):
    response = client.get("/api/v1/billing/stripe/webhook/")

    error = assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"
    assert "POST" in error["message"]


def test_a_method_an_api_view_refuses_answers_405_in_the_envelope(personas):
    response = personas.client("owner").put("/api/v1/orgs/acme/members/", {}, format="json")

    assert_error(response, 405, "method_not_allowed")


# --- invalid choices list the valid ones, in bodies and in filters --------------------


def test_an_invalid_role_lists_the_valid_roles(personas):
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/invitations/", {"email": "x@example.test", "role": "boss"}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"role": [f'"boss" is not a valid choice; valid: {ROLES}.']}


def test_an_invalid_environment_lists_the_valid_environments(personas):
    owner = personas.users["owner"]
    site = make_site(personas.org, owner)
    publish(site, make_page(site, owner), owner)

    response = personas.client("owner").post(
        f"/api/v1/orgs/acme/sites/{site.slug}/deployments/", {"environment": "prod"}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {
        "environment": ['"prod" is not a valid choice; valid: production, preview.']
    }


def test_an_invalid_plan_lists_the_plans_on_sale(personas):
    response = personas.client("owner").post(
        "/api/v1/orgs/acme/billing/checkout/", {"plan": "gold"}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {
        "plan": ['"gold" is not a valid choice; valid: pro, studio, enterprise.']
    }


def test_an_invalid_choice_in_a_filter_lists_the_valid_ones(personas):
    response = personas.client("viewer").get("/api/v1/orgs/acme/members/?role=boss")

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"role": [f'"boss" is not a valid choice; valid: {ROLES}.']}


def test_a_broken_rule_uses_the_one_field_error_code(personas, settings):
    """A service's ``Invalid`` answered code ``invalid``; field errors have one code."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/webhooks/",
        {"url": "http://127.0.0.1:9/x", "event_types": ["*", "project.created"]},
        format="json",
    )

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"event_types": ["A non-empty list of event names, or ['*']."]}


def test_a_service_rule_on_one_field_names_it_with_the_one_code(personas):
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/api-keys/",
        {"name": "x", "role": "member", "expires_at": "2000-01-01T00:00:00Z"},
        format="json",
    )

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"expires_at": ["Must be in the future."]}


# --- errors that name what was missing ------------------------------------------------


def test_api_key_scope_names_the_scope_the_request_needed(personas):
    key = _create(personas, role="admin", scopes=["project.list"])["key"]

    response = _key_client(key).post("/api/v1/orgs/acme/projects/", {"name": "x"}, format="json")

    error = assert_error(response, 403, "api_key_scope")
    assert error["details"] == {"required_scope": "project.create"}
    assert "'project.create'" in error["message"] and "'project.*'" in error["message"]


# --- documented bodies and natural messages -------------------------------------------


def test_the_password_reset_202_body_is_the_documented_one_for_any_address(personas):
    bodies = []
    for email in ("owner@acme.test", "nobody@example.test"):
        response = Client().post(
            "/api/v1/auth/password-reset/", {"email": email}, content_type="application/json"
        )
        assert response.status_code == 202, response.content
        bodies.append(response.json())

    assert (
        bodies[0]
        == bodies[1]
        == {"detail": "If an account has this address, a reset link is on its way."}
    )


def test_quota_messages_read_naturally(personas, monkeypatch):
    member = personas.client("member")
    assert (
        member.post("/api/v1/orgs/acme/sites/", {"name": "One"}, format="json").status_code == 201
    )
    sites = member.post("/api/v1/orgs/acme/sites/", {"name": "Two"}, format="json")

    stub_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    admin = personas.client("admin")
    body = {"url": "https://hooks.example.com/a", "event_types": ["*"]}
    assert admin.post("/api/v1/orgs/acme/webhooks/", body, format="json").status_code == 201
    hooks = admin.post("/api/v1/orgs/acme/webhooks/", body, format="json")

    assert assert_error(sites, 402, "quota_exceeded")["message"] == (
        "Your plan allows 1 site; this organization has 1. Upgrade the plan or free some up."
    )
    assert assert_error(hooks, 402, "quota_exceeded")["message"] == (
        "Your plan allows 1 webhook endpoint; this organization has 1. "
        "Upgrade the plan or free some up."
    )


@pytest.mark.parametrize(
    ("metric", "limit", "usage", "expected"),
    [
        ("projects", 10, 10, "Your plan allows 10 projects; this organization has 10."),
        (
            "api_calls",
            10_000,
            10_000,
            "Your plan allows 10,000 API calls a month; this organization has used 10,000 "
            "this month.",
        ),
        (
            "storage_bytes",
            1024**3,
            1024**3,
            "Your plan allows 1 GiB of storage; this organization has 1 GiB of storage.",
        ),
    ],
)
def test_quota_message_wording(metric, limit, usage, expected):
    from billing.errors import QuotaExceeded

    message = QuotaExceeded(metric=metric, limit=limit, usage=usage).message
    assert message == f"{expected} Upgrade the plan or free some up."


def test_the_invitation_pages_last_step_links_to_where_to_go_next(personas):
    invitation = make_invitation(personas.org, "newbie@example.test", role="viewer")
    token = mint_token(invitation)

    done = Client().post(
        f"/invitations/accept?token={token}",
        {"token": token, "action": "signup", "password": "demo-password-1", "name": "N"},
    )

    page = done.content.decode()
    assert done.status_code == 200, page
    assert "the app" not in page
    assert 'href="/api/docs/"' in page
    assert "/api/v1/orgs/acme/" in page
