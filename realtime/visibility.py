"""Who receives an event: decided once per event and audience class.

An *audience class* is what the permission matrix looks at — the kind of principal,
its role in the organization and, for an API key, its scopes. Every subscriber of a
class gets the same answer for an event, except where the answer names people: a
private project's members, the person who acted. :func:`decide` answers for a class
(``ALL``, ``NONE``, or "only these people"); :func:`admits` applies that answer to one
subscriber with a set lookup. The hub memoises :func:`decide` per event, so the cost
of an event grows with the number of classes present (a handful), not of subscribers.

``tests/realtime/test_visibility.py`` proves the answer equal to the per-subscriber
truth: a ``GET`` of the object by that subscriber.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from integrations.apikeys import scope_covers
from organizations.permissions import Principal, Role, allows, allows_principal
from realtime.catalog import area_of

SEES_EVERY_PROJECT = frozenset({Role.OWNER, Role.ADMIN})


@dataclass(frozen=True)
class Audience:
    """An audience class: subscribers the matrix cannot tell apart."""

    kind: Principal
    role: str
    scopes: tuple[str, ...] = ()

    def may(self, action: str) -> bool:
        return (
            allows_principal(self.kind, action)
            and allows(self.role, action)
            and (not self.scopes or any(scope_covers(s, action) for s in self.scopes))
        )


@dataclass(frozen=True)
class Event:
    """One audit event as the feed sees it (``app.realtime_events``)."""

    sequence: int
    action: str
    actor_type: str
    actor_id: uuid.UUID | None
    target_type: str
    target_id: str
    changes: dict[str, Any]
    created_at: Any
    project_id: uuid.UUID | None = None
    project_private: bool = False
    project_members: frozenset[uuid.UUID] = field(default_factory=frozenset)
    site_id: uuid.UUID | None = None


ALL = "all"
NONE = "none"


@dataclass(frozen=True)
class Only:
    """Only these people (by user id) of the class."""

    users: frozenset[uuid.UUID]


Decision = str | Only


def decide(event: Event, audience: Audience) -> Decision:
    area = area_of(event.action)
    if area is None or not audience.may(area.read):
        return NONE
    if area.reach == "org":
        return ALL
    if area.reach == "self":
        return Only(frozenset({event.actor_id})) if event.actor_id else NONE
    if area.reach == "own_or_admin":
        if audience.role in SEES_EVERY_PROJECT:
            return ALL
        return Only(frozenset({event.actor_id})) if event.actor_id else NONE
    # reach == "project"
    if audience.role in SEES_EVERY_PROJECT:
        return ALL
    if event.project_id is None or event.project_private:
        # A private project (or one gone, whose visibility is unknown): its members only.
        return Only(event.project_members)
    return ALL


def admits(decision: Decision, user_id: uuid.UUID) -> bool:
    if decision == ALL:
        return True
    if decision == NONE:
        return False
    return user_id in decision.users  # type: ignore[union-attr]
