"""Sync jobs: field mappings, the generic HTTP JSON source, and the job runner.

**Mappings** turn a source record into a target record, in ``order``: read
``source_field`` (dotted paths reach nested objects), fall back to ``default``
when it is missing or empty, refuse a missing ``required`` field, apply the
transform. Every field's error is collected, so a dry run (and a failed record)
names all of them at once.

**The HTTP JSON source** (provider ``http_json``): paged ``GET`` of the
integration's ``config.url`` through the SSRF-guarded client
(:mod:`integrations.outbound`), with its ``credentials.token`` as a bearer token
when set. A page is a JSON object whose ``config.records_key`` (default
``records``) lists the records; the next page is ``next`` (a URL, absolute or
relative to the page that named it) or ``next_cursor`` (sent back as
``?{cursor_param}=``); neither ends the run. ``total``, when given, drives the
progress. The external id is the record's ``config.id_field`` (default ``id``).

**The source's credentials go only to its own origin**: the scheme, host and port
of ``config.url``. A page whose ``next`` link (or a cursor that is a URL) names
another origin fails the job with a clear error before anything is sent there: the
source cannot hand the token, or the job, to a host the integration's admin did
not choose. (Following it without the token was the other choice; it would still
let any source aim this server at a host of its choosing and turn a credentialed
sync into a silently anonymous one, so a clear refusal is kept.)

**The target** is :class:`~integrations.models.IntegrationRecord`: upserted by
``(integration, external id)``, so running a sync again is idempotent.

**Jobs** run in the task worker (:func:`run_job`) acting as the user who started
them (``tenant_context``, exactly like ``projects.jobs.runner``): the look-up of
who that is is the only elevated read. Each page is its own short transaction
(records written, counts, cursor and progress together), so the API sees
progress as it goes and a cancel is seen between pages. Records that fail to map
are counted and listed (at most ``INTEGRATIONS_SYNC_FAILED_LISTED``) and make the
job ``partial``; a source that cannot be read fails the job with a clean message
(the HTTP status, never the body or the credentials).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Conflict, DomainError, Invalid, conflict_on_duplicate
from integrations import crypto, outbound
from integrations.models import (
    DataMapping,
    Integration,
    IntegrationJob,
    IntegrationRecord,
    Provider,
    Transform,
)
from organizations.tenancy import service_context, tenant_context

logger = logging.getLogger(__name__)

LOST_ACCESS = "The user who started this job can no longer run it."
MAX_MAPPINGS = 200


# --- mappings -----------------------------------------------------------------------

_MISSING = object()


def _read(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _transform(mapping: DataMapping, value: Any) -> Any:
    """``value`` transformed; raises ``ValueError`` with a message for the user."""
    kind = mapping.transform
    if kind == Transform.NONE:
        return value
    if kind in (Transform.TRIM, Transform.LOWER, Transform.UPPER):
        if not isinstance(value, str):
            raise ValueError("Expected text.")
        return {"trim": str.strip, "lower": str.lower, "upper": str.upper}[kind](value.strip())
    if kind == Transform.INT:
        if isinstance(value, bool):
            raise ValueError("Expected a whole number.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value.strip())
        raise ValueError("Expected a whole number.")
    if kind == Transform.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("Expected a decimal number.")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError("Expected a decimal number.") from None
        if not number.is_finite():
            raise ValueError("Expected a decimal number.")
        return str(number)  # JSON keeps it exact as text
    if kind == Transform.DATE:
        if not isinstance(value, str):
            raise ValueError("Expected an ISO 8601 date.")
        text = value.strip()
        try:
            if len(text) < 10:
                raise ValueError(text)
            return dt.date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            raise ValueError("Expected an ISO 8601 date.") from None
    if kind == Transform.MAP:
        key = value if isinstance(value, str) else json.dumps(value)
        if key not in (mapping.map_table or {}):
            raise ValueError(f"{str(key)[:50]!r} is not in the map table.")
        return mapping.map_table[key]
    raise ValueError(f"Unknown transform {kind!r}.")


def apply_mappings(
    mappings: list[DataMapping], record: Any
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The target record and the per-field errors (by target field)."""
    if not isinstance(record, dict):
        return {}, {"_record": ["A record is a JSON object."]}
    out: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for mapping in mappings:
        value = _read(record, mapping.source_field)
        if value is _MISSING or value is None or value == "":
            if mapping.default is not None:
                out[mapping.target_field] = mapping.default
            elif mapping.required:
                errors[mapping.target_field] = [f"{mapping.source_field} is required."]
            continue
        try:
            out[mapping.target_field] = _transform(mapping, value)
        except ValueError as exc:
            errors[mapping.target_field] = [f"{mapping.source_field}: {exc}"]
    return out, errors


def mappings_of(integration: Integration) -> list[DataMapping]:
    return list(
        DataMapping.objects.filter(
            organization_id=integration.organization_id, integration_id=integration.id
        ).order_by("order", "created_at", "id")
    )


# --- mapping services ---------------------------------------------------------------


def _check_mapping(transform: str, map_table: dict[str, Any] | None) -> None:
    if transform == Transform.MAP and not map_table:
        raise Invalid(
            "A map transform needs a map table.",
            details={"map_table": ["Give at least one source value → target value."]},
        )
    if map_table and not isinstance(map_table, dict):
        raise Invalid("The map table is an object.", details={"map_table": ["An object."]})


def _target_taken() -> Conflict:
    return Conflict(
        "Another mapping writes this target field.",
        code="mapping_target_taken",
        details={"target_field": ["Already mapped."]},
    )


@transaction.atomic
def data_mapping_create(
    *,
    actor: User,
    integration: Integration,
    source_field: str,
    target_field: str,
    transform: str = Transform.NONE,
    map_table: dict[str, Any] | None = None,
    required: bool = False,
    default: Any = None,
    order: int = 0,
) -> DataMapping:
    _check_mapping(transform, map_table)
    if (
        DataMapping.objects.filter(
            organization_id=integration.organization_id, integration_id=integration.id
        ).count()
        >= MAX_MAPPINGS
    ):
        raise Invalid(f"An integration has at most {MAX_MAPPINGS} mappings.")
    with conflict_on_duplicate(_target_taken()):
        mapping = DataMapping.objects.create(
            organization_id=integration.organization_id,
            integration=integration,
            source_field=source_field,
            target_field=target_field,
            transform=transform,
            map_table=map_table or {},
            required=required,
            default=default,
            order=order,
            created_by=actor,
        )
    audit_record(
        action="data_mapping.created",
        actor=actor,
        organization_id=integration.organization_id,
        target=mapping,
        changes={
            "integration": str(integration.id),
            "source": source_field,
            "target": target_field,
        },
    )
    return mapping


MAPPING_FIELDS = (
    "source_field",
    "target_field",
    "transform",
    "map_table",
    "required",
    "default",
    "order",
)


@transaction.atomic
def data_mapping_update(*, actor: User, mapping: DataMapping, **changes: Any) -> DataMapping:
    changed = {}
    for name, value in changes.items():
        if name in MAPPING_FIELDS and getattr(mapping, name) != value:
            setattr(mapping, name, value)
            changed[name] = value
    _check_mapping(mapping.transform, mapping.map_table)
    if changed:
        with conflict_on_duplicate(_target_taken()):
            mapping.save()
        audit_record(
            action="data_mapping.updated",
            actor=actor,
            organization_id=mapping.organization_id,
            target=mapping,
            changes=changed,
        )
    return mapping


@transaction.atomic
def data_mapping_delete(*, actor: User, mapping: DataMapping) -> None:
    audit_record(
        action="data_mapping.deleted",
        actor=actor,
        organization_id=mapping.organization_id,
        target=mapping,
        changes={"source": mapping.source_field, "target": mapping.target_field},
    )
    DataMapping.objects.filter(organization_id=mapping.organization_id, id=mapping.id).delete()


# --- jobs: start and cancel ----------------------------------------------------------


@transaction.atomic
def integration_job_start(
    *, actor: User, integration: Integration, kind: str = IntegrationJob.Kind.SYNC
) -> IntegrationJob:
    """Queue a run (409 ``job_in_progress`` if one is queued or running)."""
    if integration.status == Integration.Status.DISABLED:
        raise Conflict("The integration is disabled.", code="integration_disabled")
    if kind in (IntegrationJob.Kind.SYNC, IntegrationJob.Kind.IMPORT) and (
        integration.provider != Provider.HTTP_JSON
    ):
        raise Invalid(
            "Only HTTP JSON source integrations can sync or import.",
            code="job_kind_unsupported",
            details={"kind": [f"Not supported by {integration.provider} integrations."]},
        )
    if kind == IntegrationJob.Kind.EXPORT:
        raise Invalid(
            "Export has no connector yet.",
            code="job_kind_unsupported",
            details={"kind": ["No export connector for this provider."]},
        )
    with conflict_on_duplicate(
        Conflict("A job of this integration is already queued or running.", code="job_in_progress")
    ):
        job = IntegrationJob.objects.create(
            organization_id=integration.organization_id,
            integration=integration,
            kind=kind,
            created_by=actor,
        )
    audit_record(
        action="integration_job.started",
        actor=actor,
        organization_id=integration.organization_id,
        target=job,
        changes={"integration": str(integration.id), "kind": kind},
    )
    job_id = str(job.id)

    def enqueue() -> None:
        from integrations.sync_tasks import run_integration_job

        run_integration_job.enqueue(job_id)

    transaction.on_commit(enqueue)
    return job


@transaction.atomic
def integration_job_cancel(*, actor: User, job: IntegrationJob) -> IntegrationJob:
    """A queued job is canceled at once; a running one stops at its next page."""
    job = IntegrationJob.objects.select_for_update().get(
        organization_id=job.organization_id, id=job.id
    )
    if job.status not in IntegrationJob.IN_FLIGHT:
        raise Conflict("This job has already finished.", code="job_finished")
    now = timezone.now()
    job.cancel_requested_at = now
    fields = ["cancel_requested_at", "updated_at"]
    if job.status == IntegrationJob.Status.QUEUED:
        job.status, job.finished_at = IntegrationJob.Status.CANCELED, now
        fields += ["status", "finished_at"]
    job.save(update_fields=fields)
    audit_record(
        action="integration_job.canceled",
        actor=actor,
        organization_id=job.organization_id,
        target=job,
    )
    return job


# --- the HTTP JSON source ---------------------------------------------------------------


class SourceError(Exception):
    """The source could not be read; the message is clean (no body, no secret)."""


@dataclass
class Page:
    records: list[Any]
    next_url: str | None
    total: int | None


@dataclass(frozen=True)
class HttpJsonSource:
    url: str
    token: str = field(repr=False, default="")
    records_key: str = "records"
    id_field: str = "id"
    cursor_param: str = "cursor"

    @classmethod
    def of(cls, integration: Integration) -> HttpJsonSource:
        config = integration.config or {}
        url = str(config.get("url") or "")
        if not url:
            raise SourceError("The integration has no source URL (config.url).")
        credentials = crypto.decrypt_json(integration.credentials_encrypted)
        return cls(
            url=url,
            token=credentials.get("token", ""),
            records_key=str(config.get("records_key") or "records"),
            id_field=str(config.get("id_field") or "id"),
            cursor_param=str(config.get("cursor_param") or "cursor"),
        )

    def url_for(self, cursor: str) -> str:
        """The page to read: the cursor is a next URL, a cursor value, or empty (first)."""
        if not cursor:
            return self.url
        if cursor.startswith(("http://", "https://")):
            return cursor
        return str(httpx.URL(self.url).copy_merge_params({self.cursor_param: cursor}))

    def same_origin(self, url: str) -> bool:
        """Whether ``url`` has ``config.url``'s scheme, host and port."""
        mine = _origin(self.url)
        return mine is not None and _origin(url) == mine

    def fetch(self, url: str) -> Page:
        # SECURITY: the one check before anything is sent: whatever named ``url`` (a
        # next link, a cursor that is a URL), the token goes to config.url's origin only.
        if url != self.url and not self.same_origin(url):
            raise SourceError(
                "The source's next page is on another origin than config.url"
                " (scheme, host and port): refused, its credentials are sent nowhere else."
            )
        headers = {"accept": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        try:
            response = outbound.request("GET", url, headers=headers)
        except outbound.OutboundRefused as exc:
            raise SourceError(f"The source URL is not allowed: {exc.message}") from None
        except outbound.OutboundError as exc:
            raise SourceError(f"The source could not be reached: {exc}") from None
        if response.status_code != 200:
            logger.warning("sync source answered HTTP %s", response.status_code)  # no body
            raise SourceError(f"The source answered HTTP {response.status_code}.")
        if response.truncated:
            raise SourceError("The source's page is larger than allowed.")
        try:
            body = json.loads(response.content)
        except ValueError:
            raise SourceError("The source did not answer JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get(self.records_key), list):
            raise SourceError(f"The source's page has no {self.records_key!r} list.")
        next_url = None
        if isinstance(body.get("next"), str) and body["next"]:
            next_url = _joined(url, body["next"])
        elif body.get("next_cursor") not in (None, ""):
            next_url = self.url_for(str(body["next_cursor"]))
        total = body.get("total") if isinstance(body.get("total"), int) else None
        return Page(records=body[self.records_key], next_url=next_url, total=total)


def _origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of ``url`` (default ports filled in), or None."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    return parsed.scheme, parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)


def _joined(page_url: str, link: str) -> str:
    """A ``next`` link resolved against the page that named it (relative links work)."""
    try:
        return str(httpx.URL(page_url).join(link))
    except (httpx.InvalidURL, TypeError, ValueError):
        return link  # fetch() refuses it: not on the source's origin


# --- the runner (task worker) ----------------------------------------------------------


@dataclass
class _Starter:
    job_id: uuid.UUID
    organization_id: uuid.UUID
    org_slug: str
    user_id: uuid.UUID | None


class _LostAccess(Exception):
    pass


@contextmanager
def _acting(starter: _Starter) -> Iterator[None]:
    if starter.user_id is None:
        raise _LostAccess()
    with tenant_context(user_id=starter.user_id, org_slug=starter.org_slug) as org:
        if org is None or org.organization_id != starter.organization_id:
            raise _LostAccess()
        yield


def _locked(job_id: uuid.UUID | str) -> IntegrationJob:
    """The job, locked for update as its starter (RLS hides it once they are no admin)."""
    job = IntegrationJob.objects.select_for_update().filter(id=job_id).first()
    if job is None:
        raise _LostAccess()
    return job


def _save(job: IntegrationJob) -> None:
    """Save the job as its starter; an update RLS refuses (the starter is no longer an
    admin) affects no row, and that is lost access, not an insert attempt."""
    updated = IntegrationJob.objects.filter(id=job.id).update(
        **{
            f.attname: getattr(job, f.attname)
            for f in IntegrationJob._meta.concrete_fields
            if not f.primary_key and f.attname != "updated_at"
        },
        updated_at=timezone.now(),
    )
    if not updated:
        raise _LostAccess()


def _final(job: IntegrationJob, status: str, error: str = "") -> None:
    job.status = status
    job.error = error[:2000]
    job.finished_at = timezone.now()
    if status in (IntegrationJob.Status.SUCCEEDED, IntegrationJob.Status.PARTIAL):
        job.progress = 100
    _save(job)


def run_job(job_id: str) -> str:
    """Run one job to a final status; answers that status (or why nothing ran)."""
    with service_context(reason=f"integration job {job_id}: look up who started it"):
        row = (
            IntegrationJob.objects.filter(id=job_id)
            .values("organization_id", "organization__slug", "created_by_id", "status")
            .first()
        )
    if row is None:
        return "missing"
    if row["status"] != IntegrationJob.Status.QUEUED:
        return "skipped"
    starter = _Starter(
        uuid.UUID(str(job_id)),
        row["organization_id"],
        row["organization__slug"],
        row["created_by_id"],
    )
    try:
        with _acting(starter):
            job = _locked(job_id)
            if job.status != IntegrationJob.Status.QUEUED:
                return "skipped"
            job.status = IntegrationJob.Status.RUNNING
            job.started_at = timezone.now()
            _save(job)
            integration = Integration.objects.get(id=job.integration_id)
            mappings = mappings_of(integration)
        if job.kind == IntegrationJob.Kind.TEST:
            return _run_test(starter, integration)
        return _run_sync(starter, integration, mappings)
    except _LostAccess:
        return _fail_elevated(starter, LOST_ACCESS)
    except DomainError as exc:
        # The organization was suspended or the starter deactivated meanwhile
        # (tenant_context refuses the write): the reason is the message.
        return _fail_elevated(starter, str(exc))
    except Exception as exc:
        logger.exception("integration job %s failed", job_id)
        return _fail_elevated(starter, f"internal error: {type(exc).__name__}")


def _fail_elevated(starter: _Starter, error: str) -> str:
    with service_context(
        reason=f"integration job {starter.job_id}: record failure",
        organization_id=starter.organization_id,
    ):
        job = IntegrationJob.objects.filter(id=starter.job_id).first()
        if job is not None and job.status in IntegrationJob.IN_FLIGHT:
            _final(job, IntegrationJob.Status.FAILED, error)
    return IntegrationJob.Status.FAILED


def _run_test(starter: _Starter, integration: Integration) -> str:
    """Read the first page only; succeed if it is a valid page."""
    try:
        source = HttpJsonSource.of(integration)
        page = source.fetch(source.url)
        status, error = IntegrationJob.Status.SUCCEEDED, ""
    except SourceError as exc:
        page, status, error = None, IntegrationJob.Status.FAILED, str(exc)
    with _acting(starter):
        job = _locked(starter.job_id)
        job.records_read = len(page.records) if page else 0
        _final(job, status, error)
    return status


def _run_sync(starter: _Starter, integration: Integration, mappings: list[DataMapping]) -> str:
    listed_cap = settings.INTEGRATIONS_SYNC_FAILED_LISTED
    max_pages = settings.INTEGRATIONS_SYNC_MAX_PAGES
    try:
        source = HttpJsonSource.of(integration)
    except SourceError as exc:
        with _acting(starter):
            job = _locked(starter.job_id)
            _final(job, IntegrationJob.Status.FAILED, str(exc))
        return IntegrationJob.Status.FAILED
    url: str | None = source.url
    pages = 0
    while url is not None:
        with _acting(starter):
            job = IntegrationJob.objects.get(id=starter.job_id)
            if job.cancel_requested_at is not None:
                _final(job, IntegrationJob.Status.CANCELED)
                return IntegrationJob.Status.CANCELED
        if pages >= max_pages:
            with _acting(starter):
                job = _locked(starter.job_id)
                _final(
                    job,
                    IntegrationJob.Status.FAILED,
                    f"The source has more than {max_pages} pages (INTEGRATIONS_SYNC_MAX_PAGES).",
                )
            return IntegrationJob.Status.FAILED
        try:
            page = source.fetch(url)
        except SourceError as exc:
            with _acting(starter):
                job = _locked(starter.job_id)
                _final(job, IntegrationJob.Status.FAILED, str(exc))
            return IntegrationJob.Status.FAILED
        pages += 1
        with _acting(starter):
            job = _locked(starter.job_id)
            if job.status != IntegrationJob.Status.RUNNING:
                return job.status
            _write_page(job, integration, mappings, source, page, listed_cap)
            job.cursor = (page.next_url or "")[:2000]
            if page.next_url is None:
                _save(job)
                status = (
                    IntegrationJob.Status.PARTIAL
                    if job.records_failed
                    else IntegrationJob.Status.SUCCEEDED
                )
                _final(job, status)
                audit_record(
                    action=f"integration_job.{status}",
                    actor=job.created_by,
                    organization_id=job.organization_id,
                    target=job,
                    changes={
                        "read": job.records_read,
                        "written": job.records_written,
                        "failed": job.records_failed,
                    },
                )
                return status
            if page.total:
                job.progress = max(1, min(99, int(100 * job.records_read / page.total)))
            else:
                job.progress = min(95, job.progress + max(1, (95 - job.progress) // 4))
            _save(job)
        url = page.next_url
    return IntegrationJob.Status.FAILED  # not reached


def _write_page(
    job: IntegrationJob,
    integration: Integration,
    mappings: list[DataMapping],
    source: HttpJsonSource,
    page: Page,
    listed_cap: int,
) -> None:
    failed = list(job.failed_records or [])
    rows: dict[str, dict[str, Any]] = {}
    for record in page.records:
        job.records_read += 1
        external = record.get(source.id_field) if isinstance(record, dict) else None
        label = str(external) if external not in (None, "") else f"#{job.records_read}"
        data, errors = apply_mappings(mappings, record) if mappings else (record, {})
        if external in (None, "") or isinstance(external, dict | list):
            errors = {**errors, source.id_field: [f"{source.id_field} is missing."]}
        if errors:
            job.records_failed += 1
            if len(failed) < listed_cap:
                failed.append({"record": label[:200], "errors": errors})
            continue
        rows[str(external)[:200]] = data if isinstance(data, dict) else {}
    if rows:
        IntegrationRecord.objects.bulk_create(
            [
                IntegrationRecord(
                    organization_id=job.organization_id,
                    integration_id=integration.id,
                    external_id=external,
                    data=data,
                    job_id=job.id,
                )
                for external, data in rows.items()
            ],
            update_conflicts=True,
            unique_fields=["organization", "integration", "external_id"],
            update_fields=["data", "job", "updated_at"],
        )
        job.records_written += len(rows)
    job.failed_records = failed
