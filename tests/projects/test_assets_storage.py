"""Files follow the transaction that records them (``projects.storage``).

These tests commit and roll back for real (``transaction=True``), which is
what decides whether a staged file stays.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError, transaction

from organizations.tenancy import service_context
from projects.models import Asset
from projects.services.assets import asset_upload
from projects.storage import StagingError, delete_on_commit, stage_save, staging
from tests.projects.support import (
    count,
    make_asset,
    make_project,
    project_url,
    stored_files,
)

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def test_a_file_saved_in_a_committed_transaction_stays(media_root):
    with staging(), transaction.atomic():
        stage_save("kept.txt", ContentFile(b"x"))

    assert stored_files(media_root) == ["kept.txt"]


def test_a_file_saved_in_a_rolled_back_transaction_is_deleted_when_the_scope_ends(media_root):
    with staging(), pytest.raises(Boom), transaction.atomic():
        stage_save("doomed.txt", ContentFile(b"x"))
        assert stored_files(media_root) == ["doomed.txt"]
        raise Boom

    assert stored_files(media_root) == []


def test_a_file_saved_in_a_rolled_back_savepoint_is_deleted_though_the_outer_commits(
    media_root,
):
    with staging(), transaction.atomic():
        stage_save("outer.txt", ContentFile(b"x"))
        with pytest.raises(Boom), transaction.atomic():
            stage_save("inner.txt", ContentFile(b"y"))
            raise Boom

    assert stored_files(media_root) == ["outer.txt"]


def test_saving_outside_a_scope_is_refused(media_root):
    with pytest.raises(StagingError), transaction.atomic():
        stage_save("loose.txt", ContentFile(b"x"))

    assert stored_files(media_root) == []


def test_saving_outside_a_transaction_is_refused(media_root):
    with staging(), pytest.raises(StagingError):
        stage_save("loose.txt", ContentFile(b"x"))

    assert stored_files(media_root) == []


def test_a_file_deleted_on_commit_goes_only_if_the_transaction_commits(media_root):
    (media_root / "a.txt").write_bytes(b"a")
    (media_root / "b.txt").write_bytes(b"b")

    with pytest.raises(Boom), transaction.atomic():
        delete_on_commit("a.txt")
        raise Boom
    with transaction.atomic():
        delete_on_commit("b.txt")

    assert stored_files(media_root) == ["a.txt"]


def test_an_upload_whose_row_cannot_be_written_leaves_no_file(personas, media_root):
    """The file is written first, then the row insert fails (a title too long for its
    column: the service is called directly, past the serializer that would refuse it)."""
    project = make_project(personas.org, personas.users["owner"], "demo")
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")

    with (
        staging(),
        pytest.raises(DataError, match="value too long"),
        service_context(reason="test"),
    ):
        asset_upload(
            actor=personas.users["member"],
            project=project,
            upload=upload,
            kind="upload",
            title="t" * 201,
        )

    assert count(Asset, project=project) == 0
    assert stored_files(media_root) == []


def test_an_uploaded_asset_is_downloadable_after_commit(personas, media_root):
    project = make_project(personas.org, personas.users["owner"], "demo")
    asset = make_asset(project, personas.users["member"], content=b"committed")

    response = personas.client("viewer").get(project_url(project, f"assets/{asset.id}/download/"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"committed"
