"""Listing members and invitations costs the same number of queries for 3 rows as for 15."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organizations.models import Membership
from organizations.permissions import Role
from organizations.tenancy import service_context
from tests.helpers import make_user
from tests.organizations.support import make_invitation, org_url

pytestmark = pytest.mark.django_db


def queries_and_rows(client, url: str) -> tuple[int, int]:
    client.get(url)  # warm-up: anything cached per process is cached before counting
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), len(response.json()["results"])


def add_members(org, count: int) -> None:
    with service_context(reason="test fixture"):
        for n in range(count):
            user = make_user(f"extra{n}@acme.test", name=f"Extra {n}")
            Membership.objects.create(organization=org, user=user, role=Role.MEMBER)


def test_member_list_query_count_does_not_grow_with_the_number_of_members(personas):
    with service_context(reason="test fixture"):  # acme down to 3 members
        Membership.objects.filter(
            user__in=[personas.users["viewer"], personas.users["billing"]]
        ).delete()
    client = personas.client("admin")
    url = org_url("acme", "members/")

    few = queries_and_rows(client, url)
    add_members(personas.org, 12)
    many = queries_and_rows(client, url)

    assert (few[1], many[1]) == (3, 15)
    assert few[0] == many[0]


def test_invitation_list_query_count_does_not_grow_with_the_number_of_invitations(personas):
    inviters = [personas.users["owner"], personas.users["admin"]]
    for n in range(3):
        make_invitation(personas.org, f"first{n}@example.test", invited_by=inviters[n % 2])
    client = personas.client("admin")
    url = org_url("acme", "invitations/")

    few = queries_and_rows(client, url)
    for n in range(12):
        make_invitation(personas.org, f"more{n}@example.test", invited_by=inviters[n % 2])
    many = queries_and_rows(client, url)

    assert (few[1], many[1]) == (3, 15)
    assert few[0] == many[0]
