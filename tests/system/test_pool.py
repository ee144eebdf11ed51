"""Django's psycopg pool (``DB_POOL=true``): a connection handed from one tenant's request
to another's carries no claim, no role and no data of the first.

The server here is a live one (pytest-django's ``live_server``: a real WSGI server in a
thread, closing its connections after each request as any server does), and the pool
has **one** connection, so every request reuses the same backend: the backend process id
seen at each request's start proves it. At that start, before the view runs, the
connection must hold no ``app.user_id``/``app.org_id`` and be the plain app role.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.conf import settings
from django.core.signals import request_started
from django.db import connection, connections

from tests.helpers import client_for, make_user

pytestmark = pytest.mark.django_db(transaction=True)

START_OF_REQUEST = (
    "SELECT pg_backend_pid(), current_setting('app.user_id', true),"
    " current_setting('app.org_id', true), current_user, session_user"
)


@pytest.fixture
def one_pooled_connection() -> Iterator[None]:
    """The ``default`` alias behind a psycopg pool of exactly one connection, as
    ``DB_POOL=true`` configures it (``config/settings.py``), for this test only."""
    wrapper = connections["default"]
    wrapper.close()
    wrapper.close_pool()
    saved = {key: wrapper.settings_dict[key] for key in ("CONN_MAX_AGE", "OPTIONS")}
    # The settings dict is shared by every thread's wrapper of the alias: the server's too.
    wrapper.settings_dict["CONN_MAX_AGE"] = 0
    wrapper.settings_dict["OPTIONS"] = {
        **saved["OPTIONS"],
        "pool": {"min_size": 1, "max_size": 1, "timeout": 10},
    }
    try:
        yield
    finally:
        wrapper.close()
        wrapper.close_pool()
        wrapper.settings_dict.update(saved)


@pytest.fixture
def request_starts() -> Iterator[list[tuple]]:
    """What the connection holds when each request starts (in the server's thread)."""
    seen: list[tuple] = []

    def record(**kwargs: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute(START_OF_REQUEST)
            seen.append(cursor.fetchone())
        connection.close()  # back to the pool, as the server does at the request's end

    request_started.connect(record, dispatch_uid="pool-test")
    try:
        yield seen
    finally:
        request_started.disconnect(dispatch_uid="pool-test")


def _bearer(user) -> dict[str, str]:
    return {"Authorization": client_for(user)._credentials["HTTP_AUTHORIZATION"]}


def _project(user, org_slug: str, slug: str) -> None:
    response = client_for(user).post(
        f"/api/v1/orgs/{org_slug}/projects/",
        {"name": slug.title(), "slug": slug},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_no_claim_survives_from_one_tenant_to_the_next_on_a_pooled_connection(
    personas, one_pooled_connection, request_starts, live_server
):
    acme_owner, globex_owner = personas.user("owner"), personas.user("outsider")
    two_orgs = make_user("both@example.test")  # a member of both, claiming one at a time
    from organizations.models import Membership
    from organizations.tenancy import service_context

    with service_context(reason="test fixture"):
        Membership.objects.create(organization=personas.org, user=two_orgs, role="member")
        Membership.objects.create(organization=personas.other_org, user=two_orgs, role="member")
    _project(acme_owner, "acme", "acme-secret")
    _project(globex_owner, "globex", "globex-plan")
    acme, globex = _bearer(acme_owner), _bearer(globex_owner)
    both = _bearer(two_orgs)
    connection.close()  # this thread's connection back to the pool: the server needs it
    request_starts.clear()

    answers = []
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        for _ in range(3):  # interleaved: acme, globex, acme's url as globex, the two-org user
            answers.append(("acme", http.get("/api/v1/orgs/acme/projects/", headers=acme)))
            answers.append(("globex", http.get("/api/v1/orgs/globex/projects/", headers=globex)))
            answers.append(("intruder", http.get("/api/v1/orgs/acme/projects/", headers=globex)))
            answers.append(("globex", http.get("/api/v1/orgs/globex/projects/", headers=both)))
            answers.append(("anonymous", http.get("/api/v1/orgs/acme/projects/")))

    for who, response in answers:
        slugs = (
            {p["slug"] for p in response.json()["results"]} if response.status_code == 200 else {}
        )
        if who == "acme":
            assert response.status_code == 200 and "acme-secret" in slugs
        elif who == "globex":
            assert response.status_code == 200, response.text
            assert "globex-plan" in slugs and "acme-secret" not in slugs
        elif who == "intruder":
            assert response.status_code == 404, response.text
        else:
            assert response.status_code == 401, response.text
    assert len(request_starts) == len(answers)
    pids = {pid for pid, *_ in request_starts}
    assert len(pids) == 1, f"the requests did not share one pooled connection: {pids}"
    for _pid, user_claim, org_claim, current, login in request_starts:
        assert not user_claim and not org_claim, (user_claim, org_claim)
        assert current == login == settings.DB_APP_ROLE
