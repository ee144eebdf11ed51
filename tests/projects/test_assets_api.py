"""Assets through the API: upload checks (size, type, content), download, delete.

Every test stores files under a fresh ``MEDIA_ROOT`` and lists it: a refused
upload must leave no row and no file.
"""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Asset
from tests.projects.support import (
    audit_actions,
    count,
    error_code,
    make_asset,
    project_url,
    reload,
    stored_files,
)

pytestmark = pytest.mark.django_db


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def assets_url(project, rest=""):
    return project_url(project, f"assets/{rest}")


def upload(personas, project, name, content, content_type, persona="member", **fields):
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return personas.client(persona).post(
        assets_url(project), {"file": file, **fields}, format="multipart"
    )


def test_an_upload_stores_the_file_with_its_size_and_sha256(personas, project, media_root):
    content = b"hello, assets\n"

    response = upload(personas, project, "notes.txt", content, "text/plain", title="Notes")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "upload"
    assert (body["filename"], body["title"], body["content_type"]) == (
        "notes.txt",
        "Notes",
        "text/plain",
    )
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    org_id, project_id = personas.org.id, project.id
    assert stored_files(media_root) == [f"assets/{org_id}/{project_id}/{body['id']}/notes.txt"]
    assert audit_actions(personas.org, "asset.") == ["asset.uploaded"]


def test_a_download_streams_the_file_as_an_attachment(personas, project, media_root):
    asset_id = upload(personas, project, "logo.png", PNG, "image/png").json()["id"]

    response = personas.client("viewer").get(assets_url(project, f"{asset_id}/download/"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="logo.png"'


def test_the_download_url_is_in_the_metadata(personas, project, media_root):
    asset = make_asset(project, personas.users["member"])

    body = personas.client("viewer").get(assets_url(project, f"{asset.id}/")).json()

    assert body["download_url"] == assets_url(project, f"{asset.id}/download/")


def test_an_upload_over_the_size_limit_is_a_413_and_leaves_nothing(
    personas, project, media_root, settings
):
    settings.ASSET_MAX_BYTES = 1024

    response = upload(personas, project, "big.txt", b"x" * 1025, "text/plain")

    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"
    assert count(Asset, project=project) == 0
    assert stored_files(media_root) == []


def test_an_upload_at_the_size_limit_is_accepted(personas, project, media_root, settings):
    settings.ASSET_MAX_BYTES = 1024

    response = upload(personas, project, "exact.txt", b"x" * 1024, "text/plain")

    assert response.status_code == 201


def test_a_type_that_is_not_allowed_is_a_415_and_leaves_nothing(personas, project, media_root):
    response = upload(personas, project, "page.html", b"<html></html>", "text/html")

    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"
    assert count(Asset, project=project) == 0
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        ("fake.png", b"just some text", "image/png"),
        ("fake.pdf", PNG, "application/pdf"),
        ("fake.zip", PDF, "application/zip"),
        ("fake.jpg", PNG, "image/jpeg"),
        ("binary.txt", PNG, "text/plain"),
        ("latin1.csv", "name;café\n".encode("latin-1"), "text/csv"),
        ("nul.txt", b"a\x00b", "text/plain"),
        ("broken.json", b'{"a": ', "application/json"),
    ],
)
def test_content_that_does_not_match_its_declared_type_is_a_415_and_leaves_nothing(
    personas, project, media_root, name, content, declared
):
    response = upload(personas, project, name, content, declared)

    assert response.status_code == 415, response.json()
    assert error_code(response) == "unsupported_media_type"
    assert count(Asset, project=project) == 0
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        ("logo.png", PNG, "image/png"),
        ("doc.pdf", PDF, "application/pdf"),
        ("photo.gif", b"GIF89a" + b"\x00" * 10, "image/gif"),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 10, "image/jpeg"),
        ("data.json", b'{"a": [1, 2]}', "application/json; charset=utf-8"),
        ("table.csv", "name,city\nZoë,Zürich\n".encode(), "text/csv"),
    ],
)
def test_content_matching_its_declared_type_is_accepted(
    personas, project, media_root, name, content, declared
):
    response = upload(personas, project, name, content, declared)

    assert response.status_code == 201, response.json()
    assert response.json()["content_type"] == declared.split(";")[0]


def test_a_generic_content_type_is_resolved_from_the_file_name(personas, project, media_root):
    response = upload(personas, project, "README.md", b"# Hi\n", "application/octet-stream")

    assert response.status_code == 201
    assert response.json()["content_type"] == "text/markdown"


def test_a_knowledge_document_keeps_its_text(personas, project, media_root):
    response = upload(
        personas,
        project,
        "guide.md",
        "# Guide\nUse ünïcode.\n".encode(),
        "text/markdown",
        kind="knowledge",
    )

    assert response.status_code == 201
    asset = count(Asset, id=response.json()["id"], kind="knowledge", text="# Guide\nUse ünïcode.\n")
    assert asset == 1


def test_a_knowledge_document_must_be_text(personas, project, media_root):
    response = upload(personas, project, "guide.pdf", PDF, "application/pdf", kind="knowledge")

    assert response.status_code == 415
    assert count(Asset, project=project) == 0
    assert stored_files(media_root) == []


def test_an_upload_must_be_multipart(personas, project, media_root):
    response = personas.client("member").post(
        assets_url(project), {"file": "aGVsbG8="}, format="json"
    )

    assert response.status_code == 415


def test_an_upload_needs_a_file(personas, project, media_root):
    response = personas.client("member").post(
        assets_url(project), {"title": "nothing"}, format="multipart"
    )

    assert response.status_code == 400
    assert "file" in response.json()["error"]["details"]


def test_a_file_name_cannot_escape_the_asset_folder(personas, project, media_root):
    response = upload(personas, project, "../../etc/passwd.txt", b"root\n", "text/plain")

    assert response.status_code == 201
    asset_id = response.json()["id"]
    org_id = personas.org.id
    assert stored_files(media_root) == [f"assets/{org_id}/{project.id}/{asset_id}/passwd.txt"]


def test_a_viewer_cannot_upload(personas, project, media_root):
    response = upload(personas, project, "notes.txt", b"hi", "text/plain", persona="viewer")

    assert response.status_code == 403
    assert stored_files(media_root) == []


def test_a_member_of_another_org_gets_404_and_cannot_download(personas, project, media_root):
    asset = make_asset(project, personas.users["member"])
    client = personas.client("outsider")

    assert client.get(assets_url(project)).status_code == 404
    assert client.get(assets_url(project, f"{asset.id}/")).status_code == 404
    assert client.get(assets_url(project, f"{asset.id}/download/")).status_code == 404
    assert upload(personas, project, "x.txt", b"x", "text/plain", "outsider").status_code == 404


def test_deleting_an_asset_removes_the_row_and_then_the_file(
    personas, project, media_root, django_capture_on_commit_callbacks
):
    asset = make_asset(project, personas.users["member"])
    assert len(stored_files(media_root)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = personas.client("member").delete(assets_url(project, f"{asset.id}/"))

    assert response.status_code == 204
    assert count(Asset, id=asset.id) == 0
    assert stored_files(media_root) == []
    assert audit_actions(personas.org, "asset.") == ["asset.uploaded", "asset.deleted"]


def test_a_delete_keeps_the_file_until_the_deletion_commits(personas, project, media_root):
    asset = make_asset(project, personas.users["member"])

    response = personas.client("member").delete(assets_url(project, f"{asset.id}/"))

    assert response.status_code == 204
    # The test's transaction never commits, so the file is still there.
    assert len(stored_files(media_root)) == 1


def test_a_viewer_cannot_delete_an_asset(personas, project, media_root):
    asset = make_asset(project, personas.users["member"])

    response = personas.client("viewer").delete(assets_url(project, f"{asset.id}/"))

    assert response.status_code == 403
    assert count(Asset, id=asset.id) == 1


def test_assets_are_filtered_by_kind(personas, project, media_root):
    member = personas.users["member"]
    make_asset(project, member, name="a.txt")
    make_asset(project, member, name="k.md", content_type="text/markdown", kind="knowledge")

    response = personas.client("viewer").get(assets_url(project) + "?kind=knowledge")

    assert [a["filename"] for a in response.json()["results"]] == ["k.md"]


def test_listing_assets_costs_the_same_queries_for_3_or_15(personas, project, media_root):
    client = personas.client("member")
    url = assets_url(project)

    def measure():
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        return len(queries), len(response.json()["results"])

    for n in range(3):
        make_asset(project, personas.users["member"], name=f"a{n}.txt")
    few = measure()
    for n in range(12):
        make_asset(project, personas.users["admin"], name=f"b{n}.txt")
    many = measure()

    assert (few[1], many[1]) == (3, 15)
    assert few[0] == many[0]


def test_a_large_upload_is_streamed_through_a_temporary_file_and_stored(
    personas, project, media_root, settings
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # force the temporary-file handler
    content = b"line of text\n" * 40_000  # ~520 KB

    response = upload(personas, project, "big.txt", content, "text/plain")

    assert response.status_code == 201, response.json()
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()
    [stored] = stored_files(media_root)
    assert (media_root / stored).read_bytes() == content


def test_a_long_knowledge_document_is_stored_whole_and_indexed_from_its_start(
    personas, project, media_root
):
    # ~900 KB of distinct words: more than a tsvector can hold (1 MB of lexemes and positions).
    words = [f"w{n:06d}x" for n in range(100_000)]
    content = " ".join(words).encode()

    response = upload(personas, project, "long.txt", content, "text/plain", kind="knowledge")

    assert response.status_code == 201, response.json()
    asset = reload(Asset, id=response.json()["id"])
    assert asset.size == len(content)
    assert asset.text == content.decode()[: len(asset.text)]
    assert 0 < len(asset.text) < len(content)
