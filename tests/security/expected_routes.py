"""The route matrix's expected answers, kept by hand.

Independent of the code under test on purpose: not derived from the views'
``scope_map`` nor from ``organizations.permissions.MATRIX``, so loosening either
fails the route matrix instead of loosening its expectation too. Written from
the issues and the prose of the docs:

* issue 2 and ``docs/architecture.md``: every member sees the organization and
  its members and may leave; owners and admins edit the organization, change
  and remove members; only owners delete it; invitations are owners' and
  admins' only; the audit log is for owners and admins;
* issue 3 and the rules in ``docs/permissions.md``: viewers (and billing
  members) read org-visible projects, members edit them (files, AI records,
  jobs, assets), viewers cannot write; owners and admins manage projects
  (archive, delete, project members); a favorite is one's own, for anyone who
  sees the project.

Keys are ``"METHOD <pattern as in organizations.api.routes.org_routes()>"``;
values are the org roles allowed (``owner``, ``admin``, ``member``, ``viewer``,
``billing``). Apps add theirs in ``tests/<app>/expected_routes.py``. A route
with no entry here fails the suite: decide who may call it, then write it down.
"""

from __future__ import annotations

EVERY_MEMBER = frozenset({"owner", "admin", "member", "viewer", "billing"})
ORG_ADMINS = frozenset({"owner", "admin"})
OWNERS = frozenset({"owner"})
PROJECT_READERS = EVERY_MEMBER
PROJECT_EDITORS = frozenset({"owner", "admin", "member"})

ORG = "api/v1/orgs/<slug:org_slug>/"
PROJECT = ORG + "projects/<slug:project_slug>/"

EXPECTED_ROUTES: dict[str, frozenset[str]] = {
    # the organization
    f"GET {ORG}": EVERY_MEMBER,
    f"PATCH {ORG}": ORG_ADMINS,
    f"DELETE {ORG}": OWNERS,
    # members
    f"GET {ORG}members/": EVERY_MEMBER,
    f"POST {ORG}members/leave/": EVERY_MEMBER,
    f"GET {ORG}members/<uuid:membership_id>/": EVERY_MEMBER,
    f"PATCH {ORG}members/<uuid:membership_id>/": ORG_ADMINS,
    f"DELETE {ORG}members/<uuid:membership_id>/": ORG_ADMINS,
    # invitations
    f"GET {ORG}invitations/": ORG_ADMINS,
    f"POST {ORG}invitations/": ORG_ADMINS,
    f"GET {ORG}invitations/<uuid:invitation_id>/": ORG_ADMINS,
    f"DELETE {ORG}invitations/<uuid:invitation_id>/": ORG_ADMINS,
    f"POST {ORG}invitations/<uuid:invitation_id>/resend/": ORG_ADMINS,
    # audit log
    f"GET {ORG}audit-events/": ORG_ADMINS,
    # projects
    f"GET {ORG}projects/": PROJECT_READERS,
    f"POST {ORG}projects/": PROJECT_EDITORS,
    f"GET {ORG}search/": PROJECT_READERS,
    f"GET {PROJECT}": PROJECT_READERS,
    f"PATCH {PROJECT}": PROJECT_EDITORS,
    f"DELETE {PROJECT}": ORG_ADMINS,
    f"POST {PROJECT}archive/": ORG_ADMINS,
    f"DELETE {PROJECT}archive/": ORG_ADMINS,
    f"PUT {PROJECT}favorite/": PROJECT_READERS,
    f"DELETE {PROJECT}favorite/": PROJECT_READERS,
    f"GET {PROJECT}document/": PROJECT_READERS,
    # project members
    f"GET {PROJECT}members/": PROJECT_READERS,
    f"POST {PROJECT}members/": ORG_ADMINS,
    f"PATCH {PROJECT}members/<uuid:project_member_id>/": ORG_ADMINS,
    f"DELETE {PROJECT}members/<uuid:project_member_id>/": ORG_ADMINS,
    # files, revisions, snapshots
    f"GET {PROJECT}files/": PROJECT_READERS,
    f"POST {PROJECT}files/": PROJECT_EDITORS,
    f"GET {PROJECT}files/<uuid:file_id>/": PROJECT_READERS,
    f"PATCH {PROJECT}files/<uuid:file_id>/": PROJECT_EDITORS,
    f"DELETE {PROJECT}files/<uuid:file_id>/": PROJECT_EDITORS,
    f"GET {PROJECT}files/<uuid:file_id>/revisions/": PROJECT_READERS,
    f"GET {PROJECT}files/<uuid:file_id>/revisions/<int:number>/": PROJECT_READERS,
    f"POST {PROJECT}files/<uuid:file_id>/restore/": PROJECT_EDITORS,
    f"GET {PROJECT}files/<uuid:file_id>/diff/": PROJECT_READERS,
    f"GET {PROJECT}snapshots/": PROJECT_READERS,
    f"POST {PROJECT}snapshots/": PROJECT_EDITORS,
    f"GET {PROJECT}snapshots/<uuid:snapshot_id>/": PROJECT_READERS,
    f"POST {PROJECT}snapshots/<uuid:snapshot_id>/restore/": PROJECT_EDITORS,
    # AI records
    f"GET {PROJECT}conversations/": PROJECT_READERS,
    f"POST {PROJECT}conversations/": PROJECT_EDITORS,
    f"GET {PROJECT}conversations/<uuid:conversation_id>/": PROJECT_READERS,
    f"PATCH {PROJECT}conversations/<uuid:conversation_id>/": PROJECT_EDITORS,
    f"DELETE {PROJECT}conversations/<uuid:conversation_id>/": PROJECT_EDITORS,
    f"GET {PROJECT}conversations/<uuid:conversation_id>/messages/": PROJECT_READERS,
    f"POST {PROJECT}conversations/<uuid:conversation_id>/messages/": PROJECT_EDITORS,
    f"GET {PROJECT}generations/": PROJECT_READERS,
    f"POST {PROJECT}generations/": PROJECT_EDITORS,
    f"GET {PROJECT}generations/<uuid:generation_id>/": PROJECT_READERS,
    f"PATCH {PROJECT}generations/<uuid:generation_id>/": PROJECT_EDITORS,
    # jobs and assets
    f"GET {PROJECT}jobs/": PROJECT_READERS,
    f"POST {PROJECT}jobs/": PROJECT_EDITORS,
    f"GET {PROJECT}jobs/<uuid:job_id>/": PROJECT_READERS,
    f"POST {PROJECT}jobs/<uuid:job_id>/cancel/": PROJECT_EDITORS,
    f"GET {PROJECT}assets/": PROJECT_READERS,
    f"POST {PROJECT}assets/": PROJECT_EDITORS,
    f"GET {PROJECT}assets/<uuid:asset_id>/": PROJECT_READERS,
    f"DELETE {PROJECT}assets/<uuid:asset_id>/": PROJECT_EDITORS,
    f"GET {PROJECT}assets/<uuid:asset_id>/download/": PROJECT_READERS,
    # Replies from the AI gateway (issue 12 section 4) on conversations and generations:
    # starting conversations, adding messages and running generations edit a project.
    f"POST {PROJECT}conversations/<uuid:conversation_id>/reply/": PROJECT_EDITORS,
    f"POST {PROJECT}generations/<uuid:generation_id>/run/": PROJECT_EDITORS,
}
