"""Projects of ``seed --scale``: about ``rows_per_org`` projects per organization, the
per-project members of the private ones and some favorites.

Runs after the organizations step (``INSTALLED_APPS`` order) and reads the
organizations and memberships it loaded through the same cursor (same
transaction, service role), so creators, project members and favorites are
always members of their organization. No audit events: the projects'
history is not what ``--scale`` data is for, and a million more chained
events would double the load time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from billing.plans import CATALOG
from organizations.models import Membership, Organization
from organizations.seeding import scale_memberships
from projects.models import Favorite, Project, ProjectMember

_ADJECTIVES = ["amber", "brisk", "calm", "deep", "eager", "fair", "grand", "happy", "icy", "jolly"]
_NOUNS = ["api", "app", "board", "cli", "docs", "engine", "portal", "site", "sdk", "worker"]
_TAGS = ["frontend", "backend", "infra", "data", "mobile", "internal", "demo", "legacy"]
PRIVATE_SHARE = 0.1
ARCHIVED_SHARE = 0.05
MEMBERS_PER_PRIVATE_PROJECT = 2
FAVORITES_SHARE = 0.1


def seed_scale(ctx: Any) -> None:
    """``ctx.rows_per_org`` projects per organization (10% private, 5% archived), two
    project members on each private project and favorites for 10% of the projects."""
    from organizations.operations.pg import OperationError

    orgs = scale_memberships(ctx)
    if not orgs:
        raise OperationError("seed --scale: the projects step found no scale organizations.")
    rng = ctx.rng("projects")
    # (org index, project index) -> (visibility, creator): chosen once, used by every table.
    plan: list[list[tuple[bool, str]]] = [
        [(rng.random() < PRIVATE_SHARE, rng.choice(users)) for _ in range(ctx.rows_per_org)]
        for _, _, users in orgs
    ]

    def projects() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, _users) in enumerate(orgs):
            for j, (private, creator) in enumerate(plan[o]):
                created = t0 + 7200 + j * 600
                name = f"{rng.choice(_ADJECTIVES).title()} {rng.choice(_NOUNS)} {j}"
                tags = ",".join(rng.sample(_TAGS, rng.randrange(4)))
                archived = ctx.timestamp(created + 86400) if rng.random() < ARCHIVED_SHARE else None
                yield (
                    ctx.uuid("project", o, j), org_id, name, f"project-{j:05d}",
                    f"{name}: generated for scale tests.", f"{{{tags}}}",
                    "private" if private else "org", "{}", archived, creator,
                    ctx.timestamp(created), ctx.timestamp(created),
                )  # fmt: skip

    ctx.copy(
        Project._meta.db_table,
        ["id", "organization_id", "name", "slug", "description", "tags", "visibility",
         "settings", "archived_at", "created_by_id", "created_at", "updated_at"],
        projects(),
    )  # fmt: skip

    def project_members() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, users) in enumerate(orgs):
            for j, (private, _) in enumerate(plan[o]):
                if not private:
                    continue
                chosen = rng.sample(users, min(MEMBERS_PER_PRIVATE_PROJECT, len(users)))
                for k, user in enumerate(chosen):
                    role = "editor" if k == 0 else rng.choice(("editor", "viewer"))
                    at = ctx.timestamp(t0 + 7200 + j * 600 + 60)
                    yield (ctx.uuid("projectmember", o, j, k), org_id,
                           ctx.uuid("project", o, j), user, role, at)  # fmt: skip

    ctx.copy(
        ProjectMember._meta.db_table,
        ["id", "organization_id", "project_id", "user_id", "role", "created_at"],
        project_members(),
    )

    def favorites() -> Iterator[tuple[Any, ...]]:
        count = max(1, int(ctx.rows_per_org * FAVORITES_SHARE))
        for o, (org_id, t0, users) in enumerate(orgs):
            seen: set[tuple[int, str]] = set()
            for k in range(count):
                j = rng.randrange(ctx.rows_per_org)
                if plan[o][j][0]:
                    continue  # private: the user may not see it
                user = rng.choice(users)
                if (j, user) in seen:
                    continue
                seen.add((j, user))
                at = ctx.timestamp(t0 + 7200 + j * 600 + 120)
                yield (ctx.uuid("favorite", o, k), org_id, ctx.uuid("project", o, j), user, at)

    ctx.copy(
        Favorite._meta.db_table,
        ["id", "organization_id", "project_id", "user_id", "created_at"],
        favorites(),
    )


# --- the demo -------------------------------------------------------------------------

DEMO_PROJECTS = {
    "acme": [
        (
            "website",
            "Marketing website",
            "owner@acme.test",
            "org",
            {
                "index.html": [
                    "<h1>Acme</h1>\n",
                    "<h1>Acme</h1>\n<p>Rockets and anvils.</p>\n",
                    "<h1>Acme Corporation</h1>\n<p>Rockets, anvils, tunnels.</p>\n",
                ],
                "styles.css": ["body { font-family: sans-serif; }\n"],
                "README.md": ["# Website\n\nStatic site of Acme.\n"],
            },
        ),
        (
            "roadrunner",
            "Secret project: catch the roadrunner",
            "admin@acme.test",
            "private",
            {"plan.md": ["# Plan\n\n1. Anvil\n", "# Plan\n\n1. Anvil\n2. Rocket skates\n"]},
        ),
    ],
    "globex": [
        (
            "doomsday",
            "Doomsday device firmware",
            "owner@globex.test",
            "org",
            {
                "main.py": ["print('hello')\n", "def main():\n    print('hello, world')\n"],
                "README.md": ["# Doomsday\n"],
            },
        ),
    ],
}


def seed_demo(ctx: dict[str, Any]) -> None:
    """Each demo org gets projects with files (several revisions), a snapshot, a
    conversation and a finished export job with its zip asset. Idempotent."""
    from projects.jobs import runner
    from projects.services.ai import conversation_create, message_create
    from projects.services.files import file_create, file_update
    from projects.services.jobs import job_create
    from projects.services.projects import project_create
    from projects.services.snapshots import snapshot_create
    from projects.storage import staging

    users = ctx["users"]
    for org_slug, projects in DEMO_PROJECTS.items():
        org = Organization.objects.get(slug=org_slug)
        for slug, name, creator_email, visibility, files in projects:
            if Project.objects.filter(organization=org, name=name).exists():  # private: slug varies
                continue
            creator = users[creator_email]
            project = project_create(
                actor=creator,
                organization_id=org.id,
                actor_project_role="manager",
                name=name,
                slug=slug,
                visibility=visibility,
                tags=["demo"],
                description=f"{name}. Demo data from `manage.py seed`.",
            )
            for path, versions in files.items():
                file = file_create(
                    actor=creator,
                    project=project,
                    path=path,
                    content=versions[0],
                    message="first draft",
                )
                for number, content in enumerate(versions[1:], start=2):
                    file, _ = file_update(
                        actor=creator, file=file, content=content, message=f"revision {number}"
                    )
            snapshot_create(actor=creator, project=project, name="v1", description="First release")
            conversation = conversation_create(
                actor=creator, project=project, title="Getting started"
            )
            message_create(
                actor=creator, conversation=conversation, role="user", content=f"What is in {name}?"
            )
            message_create(
                actor=creator,
                conversation=conversation,
                role="assistant",
                content=f"{len(files)} files; start with the README.",
                model="demo-model",
                prompt_tokens=12,
                completion_tokens=9,
            )
            with staging():
                job = job_create(
                    actor=creator, project=project, type="project.export", parameters={}
                )
                runner.run(job.id)
    globex = Organization.objects.filter(slug="globex").first()
    if globex is not None:
        _globex_at_its_project_limit(globex, project_create=project_create)


def _globex_at_its_project_limit(globex: Organization, *, project_create: Any) -> None:
    """``globex`` (on ``free``) gets prototypes up to the plan's project limit, so creating
    one more shows the 402. Projects seed their own part of billing's demo: billing
    imports no domain app."""
    owner = Membership.objects.filter(organization=globex, role="owner").select_related("user")
    limit = CATALOG["free"]["projects"]
    have = Project.objects.filter(organization=globex).count()  # seeded in the service context
    for n in range(have + 1, limit + 1):
        project_create(
            actor=owner.first().user,
            organization_id=globex.id,
            actor_project_role="manager",
            name=f"Prototype {n}",
            slug=f"prototype-{n}",
        )
