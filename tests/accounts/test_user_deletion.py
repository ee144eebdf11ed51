"""Deleting a user: what they wrote stays without an author, append-only rows included
(the database nulls those: projects migration 0006); in the admin only superusers may,
through the service that keeps the last-owner rule and records it."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Session, User
from audit.models import AuditEvent
from organizations.models import Membership
from organizations.tenancy import service_context
from projects.models import Favorite, FileRevision, Project, ProjectMember, Snapshot
from projects.services.projects import favorite_add
from tests.helpers import make_user
from tests.projects.support import (
    add_project_member,
    make_file,
    make_org_member,
    make_project,
    make_snapshot,
    save_file,
)

pytestmark = pytest.mark.django_db


def _read(queryset):
    with service_context(reason="test read"):
        return list(queryset)


@pytest.fixture
def author(personas):
    """An org member who wrote revisions and a snapshot, created a project, is on a
    project and starred it."""
    owner = personas.users["owner"]
    user = make_org_member(personas.org, "author@acme.test")
    demo = make_project(personas.org, owner, "demo")
    file = make_file(demo, "a.txt", "v1", actor=user)
    save_file(file, "v2", actor=user)
    make_snapshot(demo, "by the author", actor=user)
    make_project(personas.org, user, "theirs")
    add_project_member(demo, user, ProjectMember.Role.EDITOR, actor=owner)
    with service_context(reason="test fixture"):
        favorite_add(user=user, project=demo)
    user.file = file
    return user


def _assert_deleted_keeping_their_work(user, personas):
    assert not User.objects.filter(pk=user.pk).exists()
    revisions = _read(FileRevision.objects.filter(file_id=user.file.pk).order_by("number"))
    assert [(r.number, r.content, r.author_id) for r in revisions] == [
        (1, "v1", None),
        (2, "v2", None),
    ]
    (snapshot,) = _read(Snapshot.objects.filter(organization=personas.org, name="by the author"))
    assert snapshot.created_by_id is None
    (theirs,) = _read(Project.objects.filter(organization=personas.org, slug="theirs"))
    assert theirs.created_by_id is None
    for model in (Membership, ProjectMember, Favorite, Session):
        assert not _read(model.objects.filter(user_id=user.pk)), model


def test_deleting_a_user_through_the_orm_keeps_their_work_without_an_author(author, personas):
    with service_context(reason="test: delete a user"):
        User.objects.get(pk=author.pk).delete()

    _assert_deleted_keeping_their_work(author, personas)


# --- the admin ----------------------------------------------------------------------------


def _admin(**flags) -> Client:
    client = Client()
    client.force_login(make_user("staff@example.test", is_staff=True, **flags))
    return client


def test_a_superuser_deletes_a_user_in_the_admin_and_it_is_audited(author, personas):
    url = f"/admin/accounts/user/{author.pk}/delete/"
    admin = _admin(is_superuser=True)
    assert admin.get(url).status_code == 200

    response = admin.post(url, {"post": "yes"})

    assert response.status_code == 302, response.content[:2000]
    _assert_deleted_keeping_their_work(author, personas)
    removed = _read(AuditEvent.objects.filter(organization=personas.org, action="member.removed"))
    assert [(e.actor_type, e.changes["user"]) for e in removed] == [("staff", str(author.pk))]
    (deleted,) = _read(AuditEvent.objects.filter(action="staff.user_deleted"))
    assert deleted.target_id == str(author.pk)
    assert deleted.changes == {"email": "author@acme.test"}


def test_the_only_owner_of_an_organization_cannot_be_deleted(personas):
    owner = personas.users["owner"]
    url = f"/admin/accounts/user/{owner.pk}/delete/"
    admin = _admin(is_superuser=True)

    assert b"the only owner of acme" in admin.get(url).content
    response = admin.post(url, {"post": "yes"})

    assert response.status_code == 200 and b"the only owner of acme" in response.content
    assert User.objects.filter(pk=owner.pk).exists()
    assert _read(Membership.objects.filter(user=owner))


def test_the_bulk_action_deletes_through_the_service_too(author, personas):
    admin = _admin(is_superuser=True)
    response = admin.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [str(author.pk)], "post": "yes"},
    )

    assert response.status_code == 302, response.content[:2000]
    _assert_deleted_keeping_their_work(author, personas)
    assert _read(AuditEvent.objects.filter(action="staff.user_deleted"))


def test_staff_who_are_not_superusers_cannot_delete_users(author):
    response = _admin().get(f"/admin/accounts/user/{author.pk}/delete/")

    assert response.status_code == 403
    assert User.objects.filter(pk=author.pk).exists()
