"""What each audit action is on the feed: its topic, and who may read it.

An event is on an organization's feed when its audit action's area (the part before
the first dot) is listed in :data:`AREAS`. Each area names the matrix action whose
``GET`` reads the object (``organizations/permissions.py``) and how far that reading
depends on the reader:

* ``org`` — the action decides (role, principal kind, key scopes);
* ``project`` — and the project's visibility: a private project's events reach its
  project members and the organization's owners and admins only (as its ``GET`` does);
* ``self`` — only the person who acted (their own provider keys: not even owners);
* ``own_or_admin`` — owners and admins, and the person who acted (cost estimates).

``tests/realtime/test_catalog.py`` checks that every organization-level audit action
(the webhook catalog, which a test keeps complete) has its area here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Reach = Literal["org", "project", "self", "own_or_admin"]


@dataclass(frozen=True)
class Area:
    topic: str
    read: str
    reach: Reach = "org"


AREAS: dict[str, Area] = {
    "org": Area("org", "org.view"),
    "member": Area("members", "member.list"),
    "invitation": Area("members", "invitation.list"),
    "project": Area("projects", "project.view", "project"),
    "file": Area("files", "project.view", "project"),
    "snapshot": Area("files", "project.view", "project"),
    "asset": Area("assets", "project.view", "project"),
    "conversation": Area("chat", "project.view", "project"),
    "chat_message": Area("chat", "project.view", "project"),
    "generation": Area("chat", "project.view", "project"),
    "job": Area("jobs", "project.view", "project"),
    "site": Area("sites", "site.view"),
    "page": Area("pages", "site.view"),
    "page_version": Area("pages", "site.view"),
    "page_comment": Area("comments", "site.view"),
    "component": Area("library", "site.view"),
    "section": Area("library", "site.view"),
    "template": Area("library", "site.view"),
    "deployment": Area("deployments", "site.view"),
    "domain": Area("domains", "site.view"),
    "billing": Area("billing", "billing.view"),
    "cost_estimate": Area("billing", "cost_estimate.list", "own_or_admin"),
    "api_key": Area("api_keys", "api_key.list"),
    "integration": Area("integrations", "integration.list"),
    "data_mapping": Area("integrations", "integration.list"),
    "integration_job": Area("integrations", "integration.list"),
    "user_integration": Area("integrations", "user_integration.manage", "self"),
    "webhook": Area("webhooks", "webhook.list"),
}

TOPICS: frozenset[str] = frozenset(area.topic for area in AREAS.values())
# Topics naming one object: its events only (and only those the subscriber may read).
OBJECT_TOPICS: tuple[str, ...] = ("project", "site")

# Actions after which the streams of the organization are checked again at once (the
# periodic check catches everything else within REALTIME_RECHECK_SECONDS).
ACCESS_ACTIONS: frozenset[str] = frozenset(
    {
        "org.suspended",
        "org.deleted",
        "org.erased",
        "org.updated",  # require_mfa
        "member.removed",
        "member.left",
        "member.role_changed",
        "api_key.revoked",
        "project.updated",  # visibility
        "project.deleted",
        "project.member_removed",
        "project.member_role_changed",
    }
)
# Platform events (no organization) that may end someone's streams.
ACCOUNT_ACTIONS: frozenset[str] = frozenset(
    {
        "user.session_revoked",
        "user.sessions_ended",
        "user.password_changed",
        "user.password_reset",
        "user.deactivated",
        "user.mfa_reset",
        "user.mfa_enabled",
        "staff.user_updated",
        "staff.user_deleted",
    }
)


def area_of(action: str) -> Area | None:
    """The feed area of an audit action, or ``None`` if it is not on the feed."""
    return AREAS.get(action.split(".", 1)[0])
