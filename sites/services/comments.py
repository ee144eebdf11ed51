"""Threaded page comments, anchored to a block and a version, resolvable."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from config.errors import Forbidden, Invalid
from organizations.permissions import allows
from sites.models import Page, PageComment, PageVersion


@transaction.atomic
def comment_create(
    *,
    actor: User,
    page: Page,
    body: str,
    block_id: str = "",
    version_number: int | None = None,
    parent_id: uuid.UUID | None = None,
) -> PageComment:
    version = None
    if version_number is not None:
        version = PageVersion.objects.filter(
            organization_id=page.organization_id, page=page, number=version_number
        ).first()
        if version is None:
            raise Invalid("No such version.", details={"version": ["Not a version of this page."]})
    parent = None
    if parent_id is not None:
        parent = PageComment.objects.filter(
            organization_id=page.organization_id, page=page, id=parent_id
        ).first()
        if parent is None:
            raise Invalid("No such comment.", details={"parent": ["Not a comment on this page."]})
    comment = PageComment.objects.create(
        organization_id=page.organization_id,
        page=page,
        version=version,
        parent=parent,
        block_id=block_id,
        body=body,
        author=actor,
    )
    audit_record(
        action="page_comment.created",
        actor=actor,
        organization_id=page.organization_id,
        target=comment,
        changes={"page": str(page.id), "parent": str(parent_id) if parent_id else None},
    )
    return comment


@transaction.atomic
def comment_update(
    *, actor: User, org_role: str, comment: PageComment, **fields: Any
) -> PageComment:
    """Edit the body (its author only) or resolve/reopen (any writer)."""
    changed = []
    if "body" in fields and fields["body"] != comment.body:
        if comment.author_id != actor.id:
            raise Forbidden("Only its author can edit a comment.")
        comment.body = fields["body"]
        changed.append("body")
    if "resolved" in fields and fields["resolved"] != (comment.resolved_at is not None):
        comment.resolved_at = timezone.now() if fields["resolved"] else None
        comment.resolved_by = actor if fields["resolved"] else None
        changed += ["resolved_at", "resolved_by"]
    if changed:
        comment.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="page_comment.updated",
            actor=actor,
            organization_id=comment.organization_id,
            target=comment,
            changes={"fields": changed},
        )
    return comment


@transaction.atomic
def comment_delete(*, actor: User, org_role: str, comment: PageComment) -> None:
    """Delete a comment and its replies: its author, or an org owner/admin."""
    if comment.author_id != actor.id and not allows(org_role, "page.unlock_any"):
        raise Forbidden("Only its author or an admin can delete a comment.")
    audit_record(
        action="page_comment.deleted",
        actor=actor,
        organization_id=comment.organization_id,
        target=comment,
    )
    PageComment.objects.filter(organization_id=comment.organization_id, id=comment.id).delete()
