"""Sync jobs (issue 12 §5): field mappings, jobs, and the records a sync writes.

Tenant tables with RLS in ``migrations/0004_sync_rls.py``: members and up read,
admins and up write (and so run); viewers and billing see none.

* :class:`DataMapping` — one source field → one target field of an integration,
  with a transform (trim, lower, upper, int, decimal, date, map table), whether it
  is required, a default, and its order;
* :class:`IntegrationJob` — one run (sync/import/export/test) with status,
  progress 0-100, the source's cursor, counts read/written/failed, error and the
  failed records (capped list). At most one job per integration is in flight
  (partial unique index ``integrationjob_one_in_flight``: a second run is 409);
* :class:`IntegrationRecord` — what a sync writes: one row per external id and
  integration, upserted, so a re-run is idempotent.
"""

from __future__ import annotations

from django.db import models

from organizations.models import TenantModel, tenant_fk, user_fk


class Transform(models.TextChoices):
    NONE = "none", "As is"
    TRIM = "trim", "Trim whitespace"
    LOWER = "lower", "Lower case"
    UPPER = "upper", "Upper case"
    INT = "int", "Integer"
    DECIMAL = "decimal", "Decimal"
    DATE = "date", "Date (ISO 8601)"
    MAP = "map", "Map table"


class DataMapping(TenantModel):
    integration = tenant_fk("integrations.Integration", related_name="mappings")
    source_field = models.CharField(max_length=200)
    target_field = models.CharField(max_length=100)
    transform = models.CharField(max_length=10, choices=Transform.choices, default=Transform.NONE)
    # For ``map``: {"source value": "target value", ...}; unmapped values are errors.
    map_table = models.JSONField(default=dict, blank=True)
    required = models.BooleanField(default=False)
    default = models.JSONField(null=True, blank=True)
    order = models.PositiveIntegerField(default=0)
    created_by = user_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "integration", "target_field"],
                name="datamapping_unique_target",
            ),
            models.CheckConstraint(
                condition=models.Q(transform__in=Transform.values), name="datamapping_transform"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "integration", "order", "id"], name="datamapping_order_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_field} → {self.target_field}"


class IntegrationJob(TenantModel):
    class Kind(models.TextChoices):
        SYNC = "sync"
        IMPORT = "import"
        EXPORT = "export"
        TEST = "test"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        PARTIAL = "partial"
        CANCELED = "canceled"

    IN_FLIGHT = (Status.QUEUED, Status.RUNNING)

    integration = tenant_fk("integrations.Integration", related_name="jobs")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SYNC)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    cursor = models.CharField(max_length=2000, blank=True)
    records_read = models.PositiveIntegerField(default=0)
    records_written = models.PositiveIntegerField(default=0)
    records_failed = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=2000, blank=True)
    failed_records = models.JSONField(default=list, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    created_by = user_fk()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "integration"],
                condition=models.Q(status__in=["queued", "running"]),
                name="integrationjob_one_in_flight",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="integrationjob_progress_max_100"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "integration", "-created_at", "-id"],
                name="integrationjob_list_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} job of {self.created_at:%Y-%m-%d %H:%M} ({self.status})"


class IntegrationRecord(TenantModel):
    integration = tenant_fk("integrations.Integration", related_name="records")
    external_id = models.CharField(max_length=200)
    data = models.JSONField(default=dict)
    job = tenant_fk("integrations.IntegrationJob", null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["organization", "integration", "external_id"],
                name="integrationrecord_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id
