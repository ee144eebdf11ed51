"""Every write to assets: uploaded files, knowledge documents, job outputs.

An asset is a row *and* a file in Django's storage (local filesystem under
``MEDIA_ROOT`` by default). The two never exist without each other: the file
is written inside the row's transaction through :mod:`projects.storage`,
which deletes it again if that transaction does not commit, and deleting an
asset deletes its file only once the deletion has committed.

Uploads are checked before anything is written: size (``ASSET_MAX_BYTES``,
413 ``payload_too_large``), declared content type (``ASSET_ALLOWED_TYPES``,
415 ``unsupported_media_type``) and the bytes themselves — a file whose
content does not match its declared type (a PNG that is not a PNG, "text"
that is not UTF-8) is refused with the same 415. Size and sha256 are computed
while the upload is read, chunk by chunk.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import mimetypes
import os
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db import transaction
from django.utils.text import get_valid_filename

from accounts.models import User
from audit.services import audit_record
from billing.quotas import quota_check_count
from config.errors import DomainError, NotFound
from projects.models import SEARCHABLE_TEXT_CHARS, Asset, Project
from projects.storage import delete_on_commit, stage_save

# Knowledge documents are searchable text (their start: see SEARCHABLE_TEXT_CHARS).
KNOWLEDGE_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})
# Multipart framing and the small form fields around the file.
FORM_OVERHEAD_BYTES = 64 * 1024
SNIFF_BYTES = 16

_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
}
_EXTRA_TYPES = {".md": "text/markdown", ".markdown": "text/markdown", ".csv": "text/csv"}


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


def _too_large() -> PayloadTooLarge:
    limit = settings.ASSET_MAX_BYTES
    return PayloadTooLarge(
        f"A file may be at most {limit} bytes.",
        details={"file": [f"The limit is {limit} bytes."]},
    )


def _unsupported(message: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(message, details={"file": [message]})


class AssetSizeLimitUploadHandler(FileUploadHandler):
    """Stop reading an upload as soon as it is over ``ASSET_MAX_BYTES`` (413).

    Installed first in the request's upload handlers, so an oversized body is
    refused without being spooled to disk in full.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:
        if content_length and content_length > settings.ASSET_MAX_BYTES + FORM_OVERHEAD_BYTES:
            raise _too_large()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.ASSET_MAX_BYTES:
            raise _too_large()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


# --- content checks -------------------------------------------------------------------


def _is_text(content_type: str) -> bool:
    return content_type.startswith("text/") or content_type in (
        "application/json",
        "application/xml",
    )


def declared_type(upload: UploadedFile) -> str:
    """The upload's declared media type (parameters dropped); a generic one is
    replaced by the type its file name suggests."""
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared in ("", "application/octet-stream"):
        extension = os.path.splitext(upload.name or "")[1].lower()
        declared = _EXTRA_TYPES.get(extension) or mimetypes.guess_type(upload.name or "")[0] or ""
    return declared


@dataclass(frozen=True)
class Inspection:
    sha256: str
    size: int
    text: str | None


def inspect_content(chunks: Iterable[bytes], content_type: str, *, keep_text: bool) -> Inspection:
    """Hash, measure and check content against ``content_type`` in one streaming pass.

    Binary types must start with their magic number; text types must be
    UTF-8 without NUL bytes (JSON must also parse). Raises 413/415.
    """
    digest = hashlib.sha256()
    size = 0
    head = b""
    text_parts: list[str] = []
    decoder = codecs.getincrementaldecoder("utf-8")() if _is_text(content_type) else None
    keep = keep_text or content_type == "application/json"
    mislabeled = _unsupported(f"The file's content is not {content_type}.")
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if size > settings.ASSET_MAX_BYTES:
            raise _too_large()
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        if decoder is not None:
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                raise mislabeled from None
            if "\x00" in text:
                raise mislabeled
            if keep:
                text_parts.append(text)
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise mislabeled from None
    text = "".join(text_parts).removeprefix("\ufeff") if decoder is not None and keep else None
    if content_type == "application/json":
        try:
            json.loads(text or "")
        except ValueError:
            raise mislabeled from None
    elif content_type == "image/webp":
        if not (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
            raise mislabeled
    elif decoder is None:
        magic = _MAGIC.get(content_type)
        if magic is None:
            raise _unsupported(f"Files of type {content_type} cannot be checked, so not accepted.")
        if not head.startswith(magic):
            raise mislabeled
    return Inspection(sha256=digest.hexdigest(), size=size, text=text)


def display_filename(name: str) -> str:
    """The name shown and sent back on download: no folders, no control characters."""
    name = unicodedata.normalize("NFC", os.path.basename((name or "").replace("\\", "/")))
    name = "".join(char for char in name if ord(char) >= 32 and ord(char) != 127).strip()
    return name[:255] or "file"


def storage_filename(name: str) -> str:
    """A conservative file name for storage paths (ASCII letters, digits, ``-_.``)."""
    stem, extension = os.path.splitext(name)
    try:
        safe_stem = get_valid_filename(stem.encode("ascii", "ignore").decode())
    except SuspiciousFileOperation:
        safe_stem = "file"
    try:
        safe_extension = get_valid_filename(extension.encode("ascii", "ignore").decode())[:16]
    except SuspiciousFileOperation:
        safe_extension = ""
    return f"{safe_stem[:100]}{safe_extension}"


def asset_storage_name(
    *, organization_id: uuid.UUID, project_id: uuid.UUID, asset_id: uuid.UUID, filename: str
) -> str:
    return f"assets/{organization_id}/{project_id}/{asset_id}/{storage_filename(filename)}"


# --- writes ---------------------------------------------------------------------------


def _create(
    *,
    actor: User | None,
    organization_id: uuid.UUID,
    project_id: uuid.UUID,
    kind: str,
    content: File,
    filename: str,
    content_type: str,
    inspection: Inspection,
    title: str,
    job_id: uuid.UUID | None = None,
) -> Asset:
    # Billing: refused with 402 if the organization's storage would pass its limit.
    quota_check_count(
        organization_id=organization_id, metric="storage_bytes", adding=inspection.size
    )
    asset_id = uuid.uuid4()
    name = stage_save(
        asset_storage_name(
            organization_id=organization_id,
            project_id=project_id,
            asset_id=asset_id,
            filename=filename,
        ),
        content,
        max_length=Asset._meta.get_field("file").max_length,
    )
    text = ""
    if kind == Asset.Kind.KNOWLEDGE and inspection.text:
        text = inspection.text[:SEARCHABLE_TEXT_CHARS]
    return Asset.objects.create(
        id=asset_id,
        organization_id=organization_id,
        project_id=project_id,
        job_id=job_id,
        kind=kind,
        file=name,
        filename=filename,
        content_type=content_type,
        size=inspection.size,
        sha256=inspection.sha256,
        title=title,
        text=text,
        created_by=actor,
    )


@transaction.atomic
def asset_upload(
    *, actor: User, project: Project, upload: UploadedFile, kind: str, title: str = ""
) -> Asset:
    """Store an uploaded file (``kind`` ``upload`` or ``knowledge``) after checking it."""
    if kind not in (Asset.Kind.UPLOAD, Asset.Kind.KNOWLEDGE):
        raise _unsupported("Only uploads and knowledge documents can be uploaded.")
    if upload.size is not None and upload.size > settings.ASSET_MAX_BYTES:
        raise _too_large()
    content_type = declared_type(upload)
    if content_type not in settings.ASSET_ALLOWED_TYPES:
        raise _unsupported(f"Files of type {content_type or 'unknown'} are not accepted.")
    if kind == Asset.Kind.KNOWLEDGE and content_type not in KNOWLEDGE_TYPES:
        raise _unsupported("Knowledge documents must be plain text, Markdown, CSV or JSON.")
    inspection = inspect_content(
        upload.chunks(), content_type, keep_text=kind == Asset.Kind.KNOWLEDGE
    )
    filename = display_filename(upload.name)
    asset = _create(
        actor=actor,
        organization_id=project.organization_id,
        project_id=project.pk,
        kind=kind,
        content=upload,
        filename=filename,
        content_type=content_type,
        inspection=inspection,
        title=title,
    )
    audit_record(
        action="asset.uploaded",
        actor=actor,
        organization_id=project.organization_id,
        target=asset,
        changes={
            "project": str(project.pk),
            "kind": kind,
            "filename": filename,
            "content_type": content_type,
            "size": inspection.size,
            "sha256": inspection.sha256,
        },
    )
    return asset


@transaction.atomic
def asset_create_output(
    *,
    actor: User | None,
    organization_id: uuid.UUID,
    project_id: uuid.UUID,
    job_id: uuid.UUID,
    filename: str,
    content: File | bytes,
    content_type: str,
    title: str = "",
) -> Asset:
    """Store a file a job produced. Not audited on its own: ``job.finished`` lists outputs."""
    if isinstance(content, bytes):
        content = ContentFile(content)
    digest = hashlib.sha256()
    size = 0
    for chunk in content.chunks():
        digest.update(chunk)
        size += len(chunk)
    return _create(
        actor=actor,
        organization_id=organization_id,
        project_id=project_id,
        kind=Asset.Kind.OUTPUT,
        content=content,
        filename=display_filename(filename),
        content_type=content_type,
        inspection=Inspection(sha256=digest.hexdigest(), size=size, text=None),
        title=title,
        job_id=job_id,
    )


@transaction.atomic
def asset_delete(*, actor: User, asset: Asset) -> None:
    """Delete the row now and the file once the deletion has committed."""
    audit_record(
        action="asset.deleted",
        actor=actor,
        organization_id=asset.organization_id,
        target=asset,
        changes={
            "project": str(asset.project_id),
            "kind": asset.kind,
            "filename": asset.filename,
            "sha256": asset.sha256,
        },
    )
    deleted, _ = Asset.objects.filter(organization_id=asset.organization_id, id=asset.id).delete()
    if not deleted:
        raise NotFound("This asset does not exist.")
    delete_on_commit(asset.file.name)
