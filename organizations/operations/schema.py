"""What the models say about tables: tenant tables, references, and a parents-first order.

Tenant tables are found generically, so an app added later is exported,
erased and validated without code changes here: a table belongs to a tenant
when its model has a foreign key to :class:`~organizations.models.Organization`
(or an ``organization_id`` column). The organization table itself is the root.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models

from organizations.models import Organization
from organizations.operations.pg import OperationError

ORG_COLUMN = "organization_id"


@dataclass(frozen=True)
class Reference:
    """One foreign key as the models declare it (whether or not the database enforces it)."""

    table: str
    column: str
    target_table: str
    target_column: str
    nullable: bool = True
    # False for Django's ``db_constraint=False``: the database may still enforce it
    # another way (e.g. the composite tenant foreign keys of ``TenantModel`` apps).
    db_constraint: bool = True

    def __str__(self) -> str:
        return f"{self.table}.{self.column} -> {self.target_table}.{self.target_column}"


@dataclass(frozen=True)
class TenantTable:
    model: type[models.Model]
    table: str
    org_column: str  # "id" for the organization table itself
    pk_column: str
    append_only: bool

    @property
    def label(self) -> str:
        return self.model._meta.label


def concrete_models() -> list[type[models.Model]]:
    """Models with a table of their own (auto-created many-to-many tables included)."""
    return [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and not m._meta.abstract
    ]


def references() -> list[Reference]:
    """Every many-to-one and one-to-one reference of every concrete model."""
    out = []
    for model in concrete_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey):
                out.append(
                    Reference(
                        table=model._meta.db_table,
                        column=field.column,
                        target_table=field.related_model._meta.db_table,
                        target_column=field.target_field.column,
                        nullable=field.null,
                        db_constraint=field.db_constraint,
                    )
                )
    return out


def _org_column(model: type[models.Model]) -> str | None:
    if model is Organization:
        return model._meta.pk.column
    by_fk = [
        f.column
        for f in model._meta.concrete_fields
        if isinstance(f, models.ForeignKey) and f.related_model is Organization
    ]
    if ORG_COLUMN in by_fk or any(f.column == ORG_COLUMN for f in model._meta.concrete_fields):
        return ORG_COLUMN
    return by_fk[0] if by_fk else None


def tenant_tables() -> list[TenantTable]:
    """The organization table, then every table whose rows belong to one organization."""
    out = []
    for model in concrete_models():
        column = _org_column(model)
        if column is None:
            continue
        out.append(
            TenantTable(
                model=model,
                table=model._meta.db_table,
                org_column=column,
                pk_column=model._meta.pk.column,
                append_only=bool(getattr(model, "append_only", False)),
            )
        )
    out.sort(key=lambda t: (t.model is not Organization, t.table))
    return out


def user_references(tables: list[TenantTable]) -> list[Reference]:
    """References from tenant tables to the user table (members, authors, actors...)."""
    names = {t.table for t in tables}
    user_table = get_user_model()._meta.db_table
    return [r for r in references() if r.table in names and r.target_table == user_table]


def parents_first(tables: list[TenantTable]) -> tuple[list[TenantTable], list[Reference]]:
    """Order ``tables`` so that every referenced table comes before the tables pointing at it.

    Returns ``(order, deferred)``. A cycle (a self-reference, or two tables
    pointing at each other such as a file and its current revision) is broken
    at a nullable reference: rows are inserted with that column NULL and the
    column is filled in once every table is loaded. A cycle of NOT NULL
    references cannot be loaded row by row and is refused.
    """
    by_name = {t.table: t for t in tables}
    edges = {
        r
        for r in references()
        if r.table in by_name
        and r.target_table in by_name
        and r.column != by_name[r.table].pk_column
    }
    deferred: list[Reference] = []
    order: list[TenantTable] = []
    remaining = sorted(by_name)
    while remaining:
        ready = [
            name
            for name in remaining
            if not any(
                e.table == name and e.target_table in remaining and e not in deferred for e in edges
            )
        ]
        if ready:
            order.extend(by_name[name] for name in ready)
            remaining = [name for name in remaining if name not in ready]
            continue
        # A cycle: defer one nullable reference inside the remaining tables, then retry.
        candidates = sorted(
            (
                e
                for e in edges
                if e.table in remaining
                and e.target_table in remaining
                and e not in deferred
                and e.nullable
            ),
            key=str,
        )
        if not candidates:
            raise OperationError(
                "tenant tables reference each other through NOT NULL columns only: "
                + ", ".join(remaining)
            )
        deferred.append(candidates[0])
    return order, deferred
