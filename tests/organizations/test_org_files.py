"""Finding 5 of the hardening review: an organization's stored files go with it.

Deleting an organization (the API, the admin) or erasing it (``erase_org``)
removes its rows in one transaction; the files those rows name in storage are
deleted once that transaction commits, and only then. The other organization's
files stay.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import transaction

from organizations.services import organization_delete
from organizations.tenancy import service_context
from tests.projects.support import make_asset, make_project, stored_files, use_fresh_media_root

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    return use_fresh_media_root(settings, tmp_path)


@pytest.fixture
def two_orgs_with_files(personas, media_root):
    """A public and a private project in acme, one project in globex, an asset in each."""
    owner, outsider = personas.users["owner"], personas.users["outsider"]
    public = make_project(personas.org, owner, "public")
    private = make_project(personas.org, owner, "secret", visibility="private")
    theirs = make_project(personas.other_org, outsider, "theirs")
    make_asset(public, owner, name="a.txt")
    make_asset(private, owner, name="b.txt")
    kept = make_asset(theirs, outsider, name="c.txt")
    assert len(stored_files(media_root)) == 3
    return kept


def test_deleting_an_organization_through_the_api_removes_its_files_after_commit(
    personas, media_root, two_orgs_with_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = personas.client("owner").delete("/api/v1/orgs/acme/")

    assert response.status_code == 204
    assert callbacks, "the files are removed by an on-commit callback"
    assert stored_files(media_root) == [two_orgs_with_files.file.name]


def test_erase_org_removes_its_files_after_commit(
    personas, media_root, two_orgs_with_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_org", "acme", "--noinput")

    assert stored_files(media_root) == [two_orgs_with_files.file.name]


def test_a_rolled_back_organization_deletion_keeps_its_files(
    personas, media_root, two_orgs_with_files, django_capture_on_commit_callbacks
):
    class Boom(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(Boom),
        transaction.atomic(),
        service_context(reason="test"),
    ):
        organization_delete(actor=personas.users["owner"], organization=personas.org)
        raise Boom

    assert len(stored_files(media_root)) == 3
