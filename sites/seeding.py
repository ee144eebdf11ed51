"""Sites in ``seed`` (the demo) and ``seed --scale`` (generated data).

The demo, through the real services: acme shares a public template
``starter`` (neutral placeholder pages) and builds the site ``acme-studio``
from it (home, about, contact, rewritten with acme's text; a component embedded
on the home page), publishes the three pages in one call and the home page once
more, comments on it (a thread with a reply). Each publication deploys
production by itself (the built-in host follows publishing); both builds run
right here, so ``/p/acme/acme-studio/`` answers as soon as ``make run`` starts
the server. Idempotent: an existing site is left alone.

``--scale``: per organization one template, component and section; about
``rows_per_org / 10`` sites, ``rows_per_org`` pages (each published once, so as
many versions), one ready production deployment per site pinning every page,
a domain per site, a day of analytics per page and comments on a fifth of the
pages. Loaded with COPY after the projects step, no audit events (like the
other apps' scale data).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from organizations.models import Organization
from organizations.seeding import scale_memberships

DEMO_SITE = "acme-studio"

# The public template every signed-in user can start from: neutral placeholder content
# that tells its reader what to do with it (not the Acme demo's text).
_STARTER_PAGES = [
    {
        "path": "/",
        "title": "Home",
        "content": [
            {"id": "hero", "type": "heading", "text": "Your site's name", "level": 1},
            {
                "id": "intro",
                "type": "text",
                "text": "One sentence about what you do. Edit this page, then publish it.",
            },
        ],
        "seo": {"description": "A short description of your site for search engines."},
    },
    {
        "path": "/about",
        "title": "About",
        "content": [
            {"id": "about", "type": "heading", "text": "About", "level": 1},
            {
                "id": "story",
                "type": "rich_text",
                "html": "<p>Who you are, and why you do it.</p>",
            },
        ],
    },
    {
        "path": "/contact",
        "title": "Contact",
        "content": [
            {"id": "contact", "type": "heading", "text": "Contact", "level": 1},
            {
                "id": "mail",
                "type": "button",
                "label": "Write to us",
                "href": "mailto:hello@example.com",
            },
        ],
    },
]

# What acme made of it: the demo site's own content.
_ACME_PAGES = {
    "/": {
        "title": "Acme Studio",
        "content": [
            {"id": "hero", "type": "heading", "text": "Acme Studio", "level": 1},
            {"id": "intro", "type": "text", "text": "Rockets, anvils and tunnels since 1949."},
        ],
        "seo": {"description": "Acme Studio: the demo site of manage.py seed."},
    },
    "/about": {
        "title": "About us",
        "content": [
            {"id": "about", "type": "heading", "text": "About us", "level": 1},
            {
                "id": "story",
                "type": "rich_text",
                "html": "<p>Founded in the desert. <strong>Still there.</strong></p>",
            },
        ],
    },
    "/contact": {
        "title": "Contact",
        "content": [
            {"id": "contact", "type": "heading", "text": "Contact", "level": 1},
            {"id": "mail", "type": "button", "label": "Write to us", "href": "mailto:hi@acme.test"},
        ],
    },
}


def seed_demo(ctx: dict[str, Any]) -> None:
    from sites.models import Component, Page, Site, Template
    from sites.services import comments, library, pages
    from sites.services.deployments import run_build
    from sites.services.sites import site_create

    users = ctx["users"]
    org = Organization.objects.get(slug="acme")
    if Site.objects.filter(organization=org, slug=DEMO_SITE).exists():
        return
    owner, member = users["owner@acme.test"], users["member@acme.test"]
    template = Template.objects.filter(organization=org, slug="starter").first()
    if template is None:
        template = library.library_item_create(
            actor=owner,
            org_role="owner",
            organization_id=org.id,
            model=Template,
            name="Starter",
            slug="starter",
            description="Home, about and contact pages with placeholder text. "
            "Shared with everyone.",
            pages=_STARTER_PAGES,
            is_public=True,
        )
    cta = Component.objects.filter(organization=org, name="Call to action").first()
    if cta is None:
        cta = library.library_item_create(
            actor=owner,
            org_role="owner",
            organization_id=org.id,
            model=Component,
            name="Call to action",
            content=[
                {"id": "cta", "type": "button", "label": "Order an anvil", "href": "/contact"}
            ],
        )
    site = site_create(
        actor=owner,
        organization_id=org.id,
        name="Acme Studio",
        slug=DEMO_SITE,
        template_id=template.id,
        description="The demo site (manage.py seed).",
    )
    for page in Page.objects.filter(site=site):
        pages.page_update(
            actor=owner, site=site, page=page, if_match=page.etag, **_ACME_PAGES[page.path]
        )
    # One call publishes the three drafts and starts one production deployment (the
    # built-in host follows publishing); built right here, so the demo is live before
    # the worker starts. The member's later publication deploys again by itself.
    first = pages.site_publish(actor=owner, site=site, message="First publication")
    run_build(str(first.deployment.id))
    home = Page.objects.get(site=site, path="/")
    home = pages.page_update(
        actor=member,
        site=site,
        page=home,
        if_match=home.etag,
        content=[
            *_ACME_PAGES["/"]["content"],
            {"id": "news", "type": "text", "text": "New this season: rocket skates."},
            {"id": "cta-embed", "type": "embed", "component": str(cta.id)},
        ],
    )
    second = pages.page_publish(
        actor=member, site=site, page=home, message="Rocket skates, order button"
    )
    thread = comments.comment_create(
        actor=member, page=home, body="Should the button say 'Buy' instead?", block_id="cta-embed"
    )
    comments.comment_create(
        actor=owner, page=home, body="'Order' is friendlier. Keeping it.", parent_id=thread.id
    )
    run_build(str(second.deployment.id))


# --- seed --scale ------------------------------------------------------------------------

SITES_SHARE = 10  # one site per this many pages
COMMENT_SHARE = 5  # a comment on one page in this many


def seed_scale(ctx: Any) -> None:
    from organizations.operations.pg import OperationError
    from sites.models import (
        Component,
        Deployment,
        DeploymentPage,
        Domain,
        Page,
        PageAnalyticsDaily,
        PageComment,
        PageVersion,
        Section,
        Site,
        Template,
    )

    orgs = scale_memberships(ctx)
    if not orgs:
        raise OperationError("seed --scale: the sites step found no scale organizations.")
    rng = ctx.rng("sites")
    pages_per_org = ctx.rows_per_org
    sites_per_org = max(1, pages_per_org // SITES_SHARE)
    creators = [[rng.choice(users) for _ in range(pages_per_org)] for _, _, users in orgs]

    def at(t0: float, offset: float) -> str:
        return ctx.timestamp(t0 + 86400 + offset)

    def content(o: int, j: int) -> tuple[str, str]:
        blocks = [
            {"id": "h", "type": "heading", "text": f"Page {j}", "level": 1},
            {"id": "t", "type": "text", "text": f"Generated page {j} of organization {o}."},
        ]
        body = json.dumps(blocks)
        return body, hashlib.sha256(body.encode()).hexdigest()

    def path(j: int) -> str:
        return "/" if j < sites_per_org else f"/page-{j:05d}"

    def per_site(kind: str, o: int) -> list[str]:
        """The ids of kind ``kind`` of organization ``o``'s sites, for page ``j`` at
        ``j % sites_per_org`` (computed once per organization, not once per row)."""
        return [ctx.uuid(kind, o, s) for s in range(sites_per_org)]

    library = [(Template, "template"), (Component, "component"), (Section, "section")]
    for model, kind in library:

        def rows(model: Any = model, kind: str = kind) -> Iterator[tuple[Any, ...]]:
            for o, (org_id, t0, users) in enumerate(orgs):
                base = (ctx.uuid(kind, o), org_id, f"Scale {kind}", "", "[]", False, users[0])
                times = (at(t0, 0), at(t0, 0))
                if model is Template:
                    yield (*base, "starter", "{}", *times)
                else:
                    yield (*base, *times)

        columns = ["id", "organization_id", "name", "description"]
        columns += ["pages" if model is Template else "content", "is_public", "created_by_id"]
        if model is Template:
            columns += ["slug", "settings"]
        ctx.copy(model._meta.db_table, [*columns, "created_at", "updated_at"], rows())

    def sites() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, users) in enumerate(orgs):
            for s in range(sites_per_org):
                yield (
                    ctx.uuid("site", o, s), org_id, f"Site {s}", f"site-{s:04d}", "", "{}",
                    "active", ctx.uuid("template", o), ctx.uuid("deployment", o, s), users[0],
                    at(t0, s), at(t0, s),
                )  # fmt: skip

    # A site and its deployments, a page and its versions, reference each other: the
    # pointers are written with the rows and checked at commit (sites 0004).
    ctx.cursor.execute("SET CONSTRAINTS site_live_deployment_fk, page_live_version_fk DEFERRED")
    ctx.copy(
        Site._meta.db_table,
        ["id", "organization_id", "name", "slug", "description", "settings", "status",
         "template_id", "live_deployment_id", "created_by_id", "created_at", "updated_at"],
        sites(),
    )  # fmt: skip

    def pages() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, _users) in enumerate(orgs):
            site_ids = per_site("site", o)
            for j in range(pages_per_org):
                body, _ = content(o, j)
                when = at(t0, 3600 + j)
                yield (
                    ctx.uuid("page", o, j), org_id, site_ids[j % sites_per_org],
                    path(j), f"Page {j}", body, "{}", "published", False, 1,
                    ctx.uuid("pageversion", o, j), when, when, creators[o][j],
                    creators[o][j], when, when,
                )  # fmt: skip

    ctx.copy(
        Page._meta.db_table,
        ["id", "organization_id", "site_id", "path", "title", "content", "seo", "status",
         "has_unpublished_changes", "revision", "live_version_id", "first_published_at",
         "last_published_at", "created_by_id", "updated_by_id", "created_at", "updated_at"],
        pages(),
    )  # fmt: skip

    def versions() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, _users) in enumerate(orgs):
            site_ids = per_site("site", o)
            for j in range(pages_per_org):
                body, digest = content(o, j)
                yield (
                    ctx.uuid("pageversion", o, j), org_id, site_ids[j % sites_per_org],
                    ctx.uuid("page", o, j), 1, path(j), f"Page {j}", body, "{}", digest,
                    "generated", creators[o][j], at(t0, 3600 + j),
                )  # fmt: skip

    ctx.copy(
        PageVersion._meta.db_table,
        ["id", "organization_id", "site_id", "page_id", "number", "path", "title", "content",
         "seo", "sha256", "message", "author_id", "created_at"],
        versions(),
    )  # fmt: skip

    def deployments() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, users) in enumerate(orgs):
            for s in range(sites_per_org):
                when = at(t0, 7200 + s)
                count = len(range(s, pages_per_org, sites_per_org))
                yield (
                    ctx.uuid("deployment", o, s), org_id, ctx.uuid("site", o, s), "production",
                    "ready", "local", f"/p/scale/site-{s:04d}/", 100, "built by seed --scale\n",
                    "", count, users[0], when, when, when, when,
                )  # fmt: skip

    ctx.copy(
        Deployment._meta.db_table,
        ["id", "organization_id", "site_id", "environment", "status", "provider", "url",
         "progress", "log", "error", "page_count", "created_by_id", "started_at", "finished_at",
         "created_at", "updated_at"],
        deployments(),
    )  # fmt: skip

    def pinned() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, _users) in enumerate(orgs):
            deployment_ids, when = per_site("deployment", o), at(t0, 7200)
            for j in range(pages_per_org):
                yield (
                    ctx.uuid("deploymentpage", o, j), org_id, deployment_ids[j % sites_per_org],
                    ctx.uuid("page", o, j), ctx.uuid("pageversion", o, j), path(j), when,
                )  # fmt: skip

    ctx.copy(
        DeploymentPage._meta.db_table,
        ["id", "organization_id", "deployment_id", "page_id", "version_id", "path", "created_at"],
        pinned(),
    )

    def domains() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, users) in enumerate(orgs):
            for s in range(sites_per_org):
                yield (
                    ctx.uuid("domain", o, s), org_id, ctx.uuid("site", o, s),
                    f"site-{s:04d}.org-{o:05d}.seed-{ctx.seed}.scale.test",
                    ctx.uuid("domaintoken", o, s).replace("-", ""), "pending", s == 0,
                    users[0], at(t0, s), at(t0, s),
                )  # fmt: skip

    ctx.copy(
        Domain._meta.db_table,
        ["id", "organization_id", "site_id", "hostname", "verification_token", "status",
         "is_primary", "created_by_id", "created_at", "updated_at"],
        domains(),
    )  # fmt: skip

    def analytics() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, _users) in enumerate(orgs):
            site_ids = per_site("site", o)
            day, when = ctx.timestamp(t0 + 2 * 86400)[:10], at(t0, 86400)
            for j in range(pages_per_org):
                views = rng.randrange(1, 500)
                yield (
                    ctx.uuid("pageanalytics", o, j), org_id, site_ids[j % sites_per_org],
                    ctx.uuid("page", o, j), day, views, max(1, views // 3), when,
                )  # fmt: skip

    ctx.copy(
        PageAnalyticsDaily._meta.db_table,
        ["id", "organization_id", "site_id", "page_id", "day", "views", "visitors", "created_at"],
        analytics(),
    )

    def page_comments() -> Iterator[tuple[Any, ...]]:
        for o, (org_id, t0, users) in enumerate(orgs):
            for j in range(0, pages_per_org, COMMENT_SHARE):
                when = at(t0, 9000 + j)
                yield (
                    ctx.uuid("pagecomment", o, j), org_id, ctx.uuid("page", o, j),
                    ctx.uuid("pageversion", o, j), "t", f"Comment on page {j}.",
                    rng.choice(users), when, when,
                )  # fmt: skip

    ctx.copy(
        PageComment._meta.db_table,
        ["id", "organization_id", "page_id", "version_id", "block_id", "body", "author_id",
         "created_at", "updated_at"],
        page_comments(),
    )  # fmt: skip
