"""Issue 17 §1: API keys are machines, not people.

A key acts for its organization's automation; it may never change who may act,
what the organization pays, or where its credentials and secrets go. Otherwise a
leaked key outlives its revocation (it mints a successor, invites a human, hands
itself a better role).

Expectations here are written by hand from the issue and ``docs/../design.md`` §5,
never derived from ``organizations.permissions.MATRIX`` or the views' ``scope_map``
(the code under test):

* :data:`PERSON_ONLY_ROUTES` — every org route a key must be refused on;
* :data:`PERSON_ONLY_ACTIONS` — the same decision per action of the matrix.

The route walk takes its routes from the URL configuration, so a route added later
is walked with a real key without anyone listing it: it is expected to work for keys
unless it is written down here as people's.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.test import APIClient

from integrations import services as integration_services
from integrations.apikeys import generate_key, hash_key
from integrations.models import ApiKey
from organizations.api.base import principal_kind
from organizations.api.routes import methods_of, org_routes
from organizations.models import Invitation, Membership, Organization
from organizations.permissions import MATRIX, Principal
from organizations.rls.checks import guarded_tables
from organizations.tenancy import service_context
from tests.helpers import table_checksums
from tests.security.objects import OBJECT_MAKERS

pytestmark = pytest.mark.django_db

ORG = "api/v1/orgs/<slug:org_slug>/"
PROJECT = ORG + "projects/<slug:project_slug>/"
WEBHOOK = ORG + "webhooks/<uuid:webhook_id>/"
INTEGRATION = ORG + "integrations/<uuid:integration_id>/"
USER_INTEGRATION = ORG + "user-integrations/<slug:user_integration_name>/"

# Written from issue 17 §1 and design §5: keys, members and roles (also inside a
# project), invitations, organization settings (rename, slug, require MFA) and deletion,
# billing checkout/portal, integration credentials and the URLs they go to, a person's
# own provider keys, webhook endpoint URLs and secrets; a person's own star.
PERSON_ONLY_ROUTES: frozenset[str] = frozenset(
    {
        f"PATCH {ORG}",
        f"DELETE {ORG}",
        f"POST {ORG}members/leave/",
        f"PATCH {ORG}members/<uuid:membership_id>/",
        f"DELETE {ORG}members/<uuid:membership_id>/",
        f"GET {ORG}invitations/",
        f"POST {ORG}invitations/",
        f"GET {ORG}invitations/<uuid:invitation_id>/",
        f"DELETE {ORG}invitations/<uuid:invitation_id>/",
        f"POST {ORG}invitations/<uuid:invitation_id>/resend/",
        f"POST {PROJECT}members/",
        f"PATCH {PROJECT}members/<uuid:project_member_id>/",
        f"DELETE {PROJECT}members/<uuid:project_member_id>/",
        f"PUT {PROJECT}favorite/",
        f"DELETE {PROJECT}favorite/",
        f"GET {ORG}api-keys/",
        f"POST {ORG}api-keys/",
        f"GET {ORG}api-keys/<uuid:api_key_id>/",
        f"DELETE {ORG}api-keys/<uuid:api_key_id>/",
        f"POST {ORG}integrations/",
        f"PATCH {INTEGRATION}",
        f"GET {ORG}user-integrations/",
        f"POST {ORG}user-integrations/",
        f"GET {USER_INTEGRATION}",
        f"PUT {USER_INTEGRATION}",
        f"DELETE {USER_INTEGRATION}",
        f"POST {ORG}webhooks/",
        f"PATCH {WEBHOOK}",
        f"POST {WEBHOOK}rotate-secret/",
        f"POST {WEBHOOK}test/",
        f"POST {ORG}billing/checkout/",
        f"POST {ORG}billing/portal/",
    }
)

PERSON_ONLY_ACTIONS: frozenset[str] = frozenset(
    {
        "org.update",
        "org.delete",
        "member.change_role",
        "member.remove",
        "member.leave",
        "invitation.list",
        "invitation.create",
        "invitation.resend",
        "invitation.revoke",
        "project.members",
        "project.favorite",
        "api_key.list",
        "api_key.create",
        "api_key.revoke",
        "integration.create",
        "integration.update",
        "user_integration.manage",
        "webhook.create",
        "webhook.update",
        "billing.checkout",
        "billing.portal",
    }
)

# Reads that need query parameters to answer 2xx (the objects' makers make revision and
# version 1 of each).
READ_QUERIES: dict[str, str] = {
    f"GET {PROJECT}files/<uuid:file_id>/diff/": "?from=1&to=1",
    f"GET {ORG}search/": "?q=a",
    f"GET {ORG}sites/<slug:site_slug>/pages/<uuid:page_id>/versions/diff/": "?from=1&to=1",
}

ROUTE_METHODS = [
    (route, method) for route in org_routes() for method in methods_of(route.view_class)
]
# The message names the action, e.g. "API keys may not perform `api_key.create`: ...".
NAMES_AN_ACTION = re.compile(r"`[a-z_]+(\.[a-z_]+)+`")


def mint_key(
    org: Organization,
    creator,
    *,
    role: str,
    scopes: list[str] | None = None,
    expires_at=None,
    name: str = "machine",
) -> tuple[ApiKey, str]:
    """A key row written directly (as one issued before this fix could be: any scopes)."""
    key = generate_key()
    with service_context(reason="test fixture: api key"):
        row = ApiKey.objects.create(
            organization=org,
            name=name,
            role=role,
            scopes=scopes or [],
            prefix="saas_",
            last_four=key[-4:],
            hashed_key=hash_key(key),
            expires_at=expires_at,
            created_by=creator,
        )
    return row, key


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def assert_refused_as_a_key(response) -> None:
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "api_key_not_allowed", error
    assert NAMES_AN_ACTION.search(error["message"]), error["message"]


def _key(route, method: str) -> str:
    return f"{method} {route.pattern}"


def _url(route, personas) -> str:
    path = route.pattern
    values = {"org_slug": personas.org.slug}
    for kwarg in route.kwargs:
        if kwarg != "org_slug":
            values[kwarg] = str(OBJECT_MAKERS[kwarg](personas))
    for name, value in values.items():
        for converter in ("slug", "uuid", "int", "str", "path"):
            path = path.replace(f"<{converter}:{name}>", value)
    return "/" + path


# --- the matrix declares principal kinds ---------------------------------------------


def test_every_action_declares_its_principal_kinds_and_people_may_do_all():
    for action, rule in MATRIX.items():
        assert rule.principals, f"{action} declares no principal kind"
        assert Principal.PERSON in rule.principals, f"{action}: people must be able to"


def test_keys_may_perform_exactly_the_actions_not_written_down_as_peoples():
    for_people_only = {a for a, rule in MATRIX.items() if Principal.API_KEY not in rule.principals}
    assert for_people_only == PERSON_ONLY_ACTIONS


def test_every_person_only_action_is_the_action_of_a_route():
    """The base view checks the kind on each route's own action; an action that is only
    checked inside a view (``deployment.production``) would escape it."""
    route_actions = {route.view_class.required_action(m) for route, m in ROUTE_METHODS}
    assert not PERSON_ONLY_ACTIONS - route_actions


def test_every_person_only_route_exists():
    known = {_key(route, method) for route, method in ROUTE_METHODS}
    assert not PERSON_ONLY_ROUTES - known, "people's routes that do not exist"


def test_credentials_that_name_no_kind_are_refused_not_taken_for_a_person():
    class Unknown:
        auth = object()

    with pytest.raises(exceptions.PermissionDenied):
        principal_kind(Unknown())


# --- the route walk: a real owner-role key of an owner on every org route -------------


@pytest.mark.parametrize(
    ("route", "method"), ROUTE_METHODS, ids=[f"{m} {r}" for r, m in ROUTE_METHODS]
)
def test_a_key_is_refused_on_peoples_routes_and_served_on_the_rest(route, method, personas):
    _row, key = mint_key(personas.org, personas.users["owner"], role="owner")
    url = _url(route, personas) + READ_QUERIES.get(_key(route, method), "")
    person_only = _key(route, method) in PERSON_ONLY_ROUTES
    tables = guarded_tables() if person_only else []
    before = table_checksums(tables)

    response = key_client(key).generic(method, url, data="{}", content_type="application/json")

    assert response.status_code < 500, response.content
    if person_only:
        assert_refused_as_a_key(response)
        assert table_checksums(tables) == before, "a refused request changed data"
    elif method == "GET":
        assert 200 <= response.status_code < 300, response.content
    else:
        assert response.status_code not in (401, 404), response.content
        if response.status_code == 403:
            assert response.json()["error"]["code"] != "api_key_not_allowed"


# --- the reproduction of issue 17 §1 ---------------------------------------------------


def test_an_expiring_one_scope_admin_key_cannot_mint_a_successor(personas):
    _row, key = mint_key(
        personas.org,
        personas.users["admin"],
        role="admin",
        scopes=["api_key.create"],
        expires_at=timezone.now() + timedelta(minutes=3),
    )
    response = key_client(key).post(
        "/api/v1/orgs/acme/api-keys/", {"name": "successor", "role": "admin"}, format="json"
    )
    assert_refused_as_a_key(response)
    with service_context(reason="test: count keys"):
        assert not ApiKey.objects.filter(name="successor").exists()


def test_an_admin_key_cannot_change_a_members_role_nor_invite(personas):
    _row, key = mint_key(personas.org, personas.users["admin"], role="admin")
    client = key_client(key)
    member = personas.membership("member")

    role_change = client.patch(
        f"/api/v1/orgs/acme/members/{member.id}/", {"role": "admin"}, format="json"
    )
    invite = client.post(
        "/api/v1/orgs/acme/invitations/",
        {"email": "attacker@evil.test", "role": "admin"},
        format="json",
    )

    assert_refused_as_a_key(role_change)
    assert_refused_as_a_key(invite)
    with service_context(reason="test: read back"):
        assert Membership.objects.get(id=member.id).role == "member"
        assert not Invitation.objects.filter(email="attacker@evil.test").exists()


def test_an_owner_key_can_neither_delete_its_org_nor_start_a_checkout(personas):
    _row, key = mint_key(personas.org, personas.users["owner"], role="owner")
    client = key_client(key)

    assert_refused_as_a_key(client.delete("/api/v1/orgs/acme/"))
    assert_refused_as_a_key(
        client.post("/api/v1/orgs/acme/billing/checkout/", {"plan": "pro"}, format="json")
    )
    assert_refused_as_a_key(client.post("/api/v1/orgs/acme/billing/portal/", {}, format="json"))
    with service_context(reason="test: read back"):
        assert Organization.objects.filter(slug="acme").exists()


def test_a_key_cannot_switch_off_require_mfa_nor_rename_its_org(personas):
    _row, key = mint_key(personas.org, personas.users["owner"], role="owner")
    response = key_client(key).patch(
        "/api/v1/orgs/acme/", {"require_mfa": False, "name": "Pwned"}, format="json"
    )
    assert_refused_as_a_key(response)


def test_the_people_can_still_do_what_keys_cannot(personas):
    """The refusal is about the principal: the same owner with a JWT is served."""
    owner = personas.client("owner")
    assert owner.get("/api/v1/orgs/acme/api-keys/").status_code == 200
    assert owner.get("/api/v1/orgs/acme/invitations/").status_code == 200
    created = owner.post(
        "/api/v1/orgs/acme/api-keys/", {"name": "ci", "role": "admin"}, format="json"
    )
    assert created.status_code == 201, created.content


# --- a key above its own role: the rule holds for people, the key path is closed -------


@pytest.mark.parametrize("key_role", ["viewer", "member", "admin", "owner"])
def test_no_key_creates_a_key_not_even_below_its_own_role(personas, key_role):
    _row, key = mint_key(personas.org, personas.users["owner"], role=key_role)
    client = key_client(key)
    for asked in ("owner", "admin", "viewer"):
        response = client.post(
            "/api/v1/orgs/acme/api-keys/", {"name": f"child-{asked}", "role": asked}, format="json"
        )
        assert_refused_as_a_key(response)
    with service_context(reason="test: count keys"):
        assert not ApiKey.objects.filter(name__startswith="child-").exists()


def test_a_person_cannot_create_a_key_above_their_role_but_may_at_it(personas):
    admin = personas.client("admin")
    above = admin.post("/api/v1/orgs/acme/api-keys/", {"name": "x", "role": "owner"}, format="json")
    at = admin.post("/api/v1/orgs/acme/api-keys/", {"name": "y", "role": "admin"}, format="json")
    assert above.status_code == 400 and above.json()["error"]["code"] == "role_too_high"
    assert at.status_code == 201, at.content


def test_the_service_refuses_a_key_above_the_actors_role(personas):
    """The rule lives in the service, whoever calls it (the API passes the caller's org
    role, a key's capped one if a key could ever reach it)."""
    from config.errors import Invalid

    with pytest.raises(Invalid) as refused:
        integration_services.api_key_create(
            actor=personas.users["owner"],
            organization_id=personas.org.id,
            actor_role="member",
            name="above",
            role="admin",
        )
    assert refused.value.code == "role_too_high"


def test_a_scope_naming_only_peoples_actions_is_refused_at_creation(personas):
    response = personas.client("admin").post(
        "/api/v1/orgs/acme/api-keys/",
        {"name": "x", "role": "member", "scopes": ["api_key.create"]},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "scopes" in response.json()["error"]["details"]


# --- require_mfa applies to keys: their creator's MFA ----------------------------------


def test_an_org_requiring_mfa_refuses_a_key_whose_creator_has_none(personas):
    creator = personas.users["admin"]
    _row, key = mint_key(personas.org, creator, role="admin")
    with service_context(reason="test: require MFA"):
        Organization.objects.filter(id=personas.org.id).update(require_mfa=True)
    client = key_client(key)

    refused = client.get("/api/v1/orgs/acme/projects/")
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "mfa_required"

    with service_context(reason="test: the creator turns MFA on"):
        type(creator).objects.filter(id=creator.id).update(mfa_enabled=True)
    assert client.get("/api/v1/orgs/acme/projects/").status_code == 200


# --- the database's own checks of app.enter_org_with_key -------------------------------


def _enter_with_key_in_sql(key_id, slug: str, used_at):
    """``app.enter_org_with_key`` called as the app role; its answer and the claims set."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT organization_id, role FROM app.enter_org_with_key(%s::uuid, %s, %s)",
            [str(key_id), slug, used_at],
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT app.current_user_id(), app.current_org_id(), app.current_api_key_id(),"
            " current_user"
        )
        claims = cursor.fetchone()
    return row, claims


def test_the_sql_enters_with_a_live_key(personas):
    """The control for the refusals below: the same call with a live key works."""
    row, _key = mint_key(personas.org, personas.users["admin"], role="member")
    with transaction.atomic():
        answer, (user_id, org_id, key_id, db_user) = _enter_with_key_in_sql(
            row.id, "acme", timezone.now()
        )
        transaction.set_rollback(True)
    assert db_user == settings.DB_APP_ROLE
    assert answer == (personas.org.id, "member")
    assert (user_id, org_id, key_id) == (personas.users["admin"].id, personas.org.id, row.id)


@pytest.mark.parametrize("used_at_hours_ago", [2, 0])
def test_the_sql_refuses_an_expired_key_whatever_time_the_caller_names(personas, used_at_hours_ago):
    """Expiry is the database's own clock (``now()``), not the caller's ``used_at``: the
    Python check in authentication is not the only one."""
    expired_at = timezone.now() - timedelta(hours=1)
    row, _key = mint_key(
        personas.org,
        personas.users["admin"],
        role="admin",
        expires_at=timezone.now() + timedelta(days=1),
    )
    with service_context(reason="test: the key expired an hour ago"):
        ApiKey.objects.filter(id=row.id).update(expires_at=expired_at)
    with transaction.atomic():
        answer, claims = _enter_with_key_in_sql(
            row.id, "acme", timezone.now() - timedelta(hours=used_at_hours_ago)
        )
        transaction.set_rollback(True)
    assert answer is None
    assert claims[:3] == (None, None, None)


def test_the_sql_refuses_a_revoked_key(personas):
    row, _key = mint_key(personas.org, personas.users["admin"], role="admin")
    with service_context(reason="test: revoke behind its back"):
        ApiKey.objects.filter(id=row.id).update(revoked_at=timezone.now())
    with transaction.atomic():
        answer, claims = _enter_with_key_in_sql(row.id, "acme", timezone.now())
        transaction.set_rollback(True)
    assert answer is None
    assert claims[:3] == (None, None, None)
