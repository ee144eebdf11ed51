"""Finding 7a of the hardening review: creating or renaming a project must not tell a
member that a private project they cannot see holds a slug.

A private project's slug carries a random suffix (decision 0008), so no slug a
member can choose is held by a project hidden from them: what they can observe
(201 with the slug they asked for, or 409 for a project they can see) does not
depend on hidden projects. Uniqueness is unchanged: the database still refuses a
duplicate ``(organization, slug)``.
"""

from __future__ import annotations

import re

import pytest
from django.db import IntegrityError, transaction

from organizations.tenancy import service_context
from projects.models import Project
from tests.projects.support import error_code, make_project, project_url, projects_url

pytestmark = pytest.mark.django_db

PRIVATE_SLUG = re.compile(r"^secret-[a-z0-9]{8}$")


@pytest.fixture
def private(personas):
    return make_project(personas.org, personas.users["admin"], "secret", visibility="private")


def test_a_private_projects_slug_gets_an_unguessable_suffix(private):
    assert PRIVATE_SLUG.match(private.slug), private.slug


def test_a_member_creating_the_slug_of_a_hidden_project_cannot_tell_it_exists(personas, private):
    member = personas.client("member")
    assert member.get(project_url(private.slug)).status_code == 404  # hidden from them

    response = member.post(projects_url(), {"name": "Secret", "slug": "secret"}, format="json")

    # The same answer as for a slug no project holds.
    control = member.post(projects_url(), {"name": "Other", "slug": "other"}, format="json")
    assert (response.status_code, control.status_code) == (201, 201)
    assert (response.json()["slug"], control.json()["slug"]) == ("secret", "other")


def test_a_member_renaming_to_the_slug_of_a_hidden_project_cannot_tell_it_exists(personas, private):
    member = personas.client("member")
    created = member.post(projects_url(), {"name": "Mine", "slug": "mine"}, format="json")
    assert created.status_code == 201

    response = member.patch(project_url("mine"), {"slug": "secret"}, format="json")

    assert response.status_code == 200 and response.json()["slug"] == "secret"


def test_two_private_projects_asked_for_with_the_same_slug_both_exist(personas, private):
    admin = personas.client("admin")

    response = admin.post(
        projects_url(), {"name": "Secret", "slug": "secret", "visibility": "private"}, format="json"
    )

    assert response.status_code == 201
    assert PRIVATE_SLUG.match(response.json()["slug"])
    assert response.json()["slug"] != private.slug


def test_a_slug_a_caller_can_see_is_still_a_409(personas, private):
    make_project(personas.org, personas.users["owner"], "public")

    as_member = personas.client("member").post(
        projects_url(), {"name": "P", "slug": "public"}, format="json"
    )
    as_admin = personas.client("admin").patch(
        project_url("public"), {"slug": private.slug}, format="json"
    )

    assert (as_member.status_code, error_code(as_member)) == (409, "slug_taken")
    # An org admin sees every project: the private one's full slug is a 409 for them.
    assert (as_admin.status_code, error_code(as_admin)) == (409, "slug_taken")


def test_the_database_still_refuses_a_duplicate_slug(personas, private):
    with (
        service_context(reason="test"),
        pytest.raises(IntegrityError),
        transaction.atomic(),
    ):
        Project.objects.create(organization=personas.org, name="Dup", slug=private.slug)


def test_making_a_project_private_gives_it_an_unguessable_slug(personas):
    make_project(personas.org, personas.users["owner"], "secret")

    response = personas.client("admin").patch(
        project_url("secret"), {"visibility": "private"}, format="json"
    )

    assert response.status_code == 200
    assert PRIVATE_SLUG.match(response.json()["slug"])
    assert personas.client("admin").get(project_url("secret")).status_code == 404
    # ...and the slug it had is free again, for anyone.
    member = personas.client("member")
    again = member.post(projects_url(), {"name": "S", "slug": "secret"}, format="json")
    assert again.status_code == 201


def test_renaming_a_private_project_keeps_its_slug_unguessable(personas, private):
    response = personas.client("admin").patch(
        project_url(private.slug), {"slug": "plans"}, format="json"
    )

    assert response.status_code == 200
    assert re.match(r"^plans-[a-z0-9]{8}$", response.json()["slug"])
