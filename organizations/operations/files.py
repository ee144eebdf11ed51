"""The stored files of an organization, and their removal once its rows are gone.

A file in Django's storage is named by a row (a ``FileField``). When an
organization goes — ``DELETE /api/v1/orgs/{slug}/``, the admin, ``erase_org`` —
its rows go in one transaction, and the files they name must follow, **after**
that transaction commits (a rolled-back deletion keeps both), the same contract
as ``projects.storage.delete_on_commit`` for one project.

Found generically: every ``FileField`` of every tenant table
(:func:`~organizations.operations.schema.tenant_tables`), so an app that adds a
file-bearing model later is covered without code here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import Storage
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from psycopg import sql

from organizations.operations.schema import tenant_tables

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFile:
    storage: Storage
    name: str


def file_columns() -> list[tuple[str, str, str, Storage]]:
    """(table, organization column, file column, storage) of every tenant ``FileField``."""
    out = []
    for table in tenant_tables():
        for field in table.model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                out.append((table.table, table.org_column, field.column, field.storage))
    return out


def organization_stored_files(
    organization_id: Any, *, using: str = DEFAULT_DB_ALIAS
) -> list[StoredFile]:
    """Every stored file the organization's rows name, read with the caller's rights:
    call it where every row of the organization is visible (the service context)."""
    files = []
    with connections[using].cursor() as cursor:
        for table, org_column, column, storage in file_columns():
            cursor.execute(
                sql.SQL("SELECT {col} FROM {t} WHERE {org} = %s AND {col} <> ''").format(
                    col=sql.Identifier(column),
                    t=sql.Identifier(table),
                    org=sql.Identifier(org_column),
                ),
                [str(organization_id)],
            )
            files.extend(StoredFile(storage, name) for (name,) in cursor.fetchall())
    return files


def delete_files_on_commit(files: list[StoredFile], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Delete ``files`` once the current transaction commits (nothing if it rolls back)."""

    def delete() -> None:
        for file in files:
            try:
                file.storage.delete(file.name)
            except Exception:  # an orphan file is logged, never a failed deletion
                logger.exception("could not delete %s from storage", file.name)

    if files:
        transaction.on_commit(delete, using=using, robust=True)
