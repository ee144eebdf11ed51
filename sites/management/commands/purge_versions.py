"""``purge_versions --days N``: delete old page versions nobody can need.

Kept, whatever their age: the live version and the scheduled version of every
page, the latest version of every page, and every version a deployment pins
(so rollbacks keep working). Page versions are append-only for the runtime
roles (no DELETE, not even in the service context), so this runs on the
**owner** connection — the migration role, like ``backup`` — as one statement,
and writes one ``page_version.purged`` audit event per organization. The
foreign keys from pages and deployments to versions are ``NO ACTION``: a
version that became live while the purge ran makes the purge fail, never the
page silently unpublished.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.utils import timezone

from audit.services import audit_record
from organizations.tenancy import OWNER_DB_ALIAS

PURGE = """
WITH keep AS (
    SELECT live_version_id AS id FROM sites_page WHERE live_version_id IS NOT NULL
    UNION SELECT scheduled_version_id FROM sites_page WHERE scheduled_version_id IS NOT NULL
    UNION SELECT version_id FROM sites_deploymentpage
    UNION (SELECT DISTINCT ON (page_id) id FROM sites_pageversion ORDER BY page_id, number DESC)
)
DELETE FROM sites_pageversion v
 WHERE v.created_at < %s AND NOT EXISTS (SELECT 1 FROM keep WHERE keep.id = v.id)
RETURNING v.organization_id
"""


def purge_versions(*, days: int) -> dict[str, int]:
    """Delete versions older than ``days`` that nothing keeps; answers counts per org id."""
    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic(using=OWNER_DB_ALIAS):
        with connections[OWNER_DB_ALIAS].cursor() as cursor:
            cursor.execute(PURGE, [cutoff])
            rows = cursor.fetchall()
        counts: dict[str, int] = {}
        for (org_id,) in rows:
            counts[str(org_id)] = counts.get(str(org_id), 0) + 1
        for org_id, count in counts.items():
            audit_record(
                action="page_version.purged",
                organization_id=org_id,
                changes={"count": count, "older_than_days": days},
                using=OWNER_DB_ALIAS,
            )
    return counts


class Command(BaseCommand):
    help = (
        "Delete page versions older than --days that are not live, scheduled, latest or deployed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, required=True)

    def handle(self, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        counts = purge_versions(days=options["days"])
        self.stdout.write(f"purged {sum(counts.values())} version(s) in {len(counts)} org(s)")
