"""Reusable blocks (components, sections) and whole-site templates.

Org-owned; ``is_public`` shares one with every signed-in user (read-only for
them: the second SELECT policy). Making one public, or private again, is an
admin's decision (``library.publicize``), checked by the caller's view and
again here.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from accounts.models import User
from audit.services import audit_record
from config.errors import Forbidden, Invalid, conflict_on_duplicate, slug_taken
from organizations.permissions import allows
from sites import content as blocks
from sites.models import Component, Section, Template

BLOCK_FIELDS = ("name", "description", "content", "is_public")
TEMPLATE_FIELDS = ("name", "slug", "description", "pages", "settings", "is_public")
LibraryItem = Component | Section | Template


def _kind(model: type) -> str:
    return model._meta.model_name


def _check_publicize(org_role: str, fields: dict[str, Any], current: bool = False) -> None:
    if fields.get("is_public", current) != current and not allows(org_role, "library.publicize"):
        raise Forbidden("Only org owners and admins can share a component or template publicly.")


def _clean_template_pages(pages: Any) -> list[dict[str, Any]]:
    if not isinstance(pages, list) or len(pages) > 100:
        raise Invalid("Invalid pages.", details={"pages": ["A list of at most 100 pages."]})
    out, paths = [], set()
    for spec in pages:
        if not isinstance(spec, dict) or not isinstance(spec.get("title", ""), str):
            raise Invalid("Invalid pages.", details={"pages": ["Each page is {path, title, ...}."]})
        path = blocks.normalize_path(spec.get("path", "/"))
        if path in paths:
            raise Invalid("Invalid pages.", details={"pages": [f"{path} appears twice."]})
        paths.add(path)
        out.append(
            {
                "path": path,
                "title": (spec.get("title") or "Untitled")[:200],
                "content": blocks.clean(spec.get("content", [])),
                "seo": blocks.clean_seo(spec.get("seo", {})),
            }
        )
    return out


def _clean(model: type, fields: dict[str, Any]) -> dict[str, Any]:
    allowed = TEMPLATE_FIELDS if model is Template else BLOCK_FIELDS
    unknown = set(fields) - set(allowed)
    if unknown:
        raise Invalid("Unknown fields.", details={name: ["Unknown field."] for name in unknown})
    if "content" in fields:
        fields["content"] = blocks.clean(fields["content"], allow_embed=False)
    if "pages" in fields:
        fields["pages"] = _clean_template_pages(fields["pages"])
    if "slug" in fields:
        fields["slug"] = slugify(fields["slug"])[:60].strip("-")
        if not fields["slug"]:
            raise Invalid("Invalid slug.", details={"slug": ["Letters, digits, hyphens."]})
    return fields


@transaction.atomic
def library_item_create(
    *, actor: User, org_role: str, organization_id: uuid.UUID, model: type, **fields: Any
) -> LibraryItem:
    """Create a component, section or template (``model``)."""
    _check_publicize(org_role, fields)
    fields = _clean(model, fields)
    if model is Template and "slug" not in fields:
        fields["slug"] = slugify(fields.get("name", ""))[:60].strip("-") or "template"
    with conflict_on_duplicate(slug_taken("A template with this slug already exists.")):
        item = model.objects.create(organization_id=organization_id, created_by=actor, **fields)
    audit_record(
        action=f"{_kind(model)}.created",
        actor=actor,
        organization_id=organization_id,
        target=item,
        changes={"name": item.name, "is_public": item.is_public},
    )
    return item


@transaction.atomic
def library_item_update(
    *, actor: User, org_role: str, item: LibraryItem, **fields: Any
) -> LibraryItem:
    """Change an item of your organization. Published pages keep what they inlined."""
    _check_publicize(org_role, fields, current=item.is_public)
    fields = _clean(type(item), fields)
    changed = [name for name, value in fields.items() if getattr(item, name) != value]
    if not changed:
        return item
    for name in changed:
        setattr(item, name, fields[name])
    with conflict_on_duplicate(slug_taken("A template with this slug already exists.")):
        item.save(update_fields=[*changed, "updated_at"])
    audit_record(
        action=f"{_kind(type(item))}.updated",
        actor=actor,
        organization_id=item.organization_id,
        target=item,
        changes={"fields": changed, "is_public": item.is_public},
    )
    return item


@transaction.atomic
def library_item_delete(*, actor: User, item: LibraryItem) -> None:
    audit_record(
        action=f"{_kind(type(item))}.deleted",
        actor=actor,
        organization_id=item.organization_id,
        target=item,
        changes={"name": item.name},
    )
    type(item).objects.filter(organization_id=item.organization_id, id=item.id).delete()
