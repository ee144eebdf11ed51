"""Who may call each sites route, written from the issue's words (issue 11), not from
the code: every role reads; member and up create sites, edit drafts, publish,
comment, deploy previews; admin and up delete sites, deploy to production, roll
back, manage domains, make a component or template public.

Routes whose permission depends on the body (a production deployment, making a
component public) list the roles that get past the route; the stricter rule is
tested separately (``test_permissions.py``).
"""

from __future__ import annotations

EVERYONE = frozenset({"owner", "admin", "member", "viewer", "billing"})
MEMBERS = frozenset({"owner", "admin", "member"})
ADMINS = frozenset({"owner", "admin"})

ORG = "api/v1/orgs/<slug:org_slug>/"
SITE = f"{ORG}sites/<slug:site_slug>/"
PAGE = f"{SITE}pages/<uuid:page_id>/"
VERSION = f"{PAGE}versions/<int:version_number>/"
DEPLOYMENT = f"{SITE}deployments/<uuid:deployment_id>/"
DOMAIN = f"{SITE}domains/<uuid:domain_id>/"

EXPECTED_ROUTES: dict[str, frozenset[str]] = {
    f"GET {ORG}sites/": EVERYONE,
    f"POST {ORG}sites/": MEMBERS,
    f"GET {SITE}": EVERYONE,
    f"PATCH {SITE}": MEMBERS,  # production_locked: admins (body-dependent)
    f"DELETE {SITE}": ADMINS,
    f"POST {SITE}archive/": ADMINS,
    f"DELETE {SITE}archive/": ADMINS,
    f"POST {SITE}publish/": MEMBERS,  # publishing drafts together (issue 22)
    f"GET {SITE}pages/": EVERYONE,
    f"POST {SITE}pages/": MEMBERS,
    f"GET {PAGE}": EVERYONE,
    f"PATCH {PAGE}": MEMBERS,
    f"DELETE {PAGE}": MEMBERS,
    f"POST {PAGE}publish/": MEMBERS,
    f"POST {PAGE}unpublish/": MEMBERS,
    f"POST {PAGE}lock/": MEMBERS,
    f"DELETE {PAGE}lock/": MEMBERS,
    f"GET {PAGE}versions/": EVERYONE,
    f"GET {PAGE}versions/diff/": EVERYONE,
    f"GET {VERSION}": EVERYONE,
    f"POST {VERSION}revert/": MEMBERS,
    f"GET {PAGE}comments/": EVERYONE,
    f"POST {PAGE}comments/": MEMBERS,
    f"PATCH {PAGE}comments/<uuid:comment_id>/": MEMBERS,
    f"DELETE {PAGE}comments/<uuid:comment_id>/": MEMBERS,
    f"GET {SITE}deployments/": EVERYONE,
    f"POST {SITE}deployments/": MEMBERS,  # production: admins (body-dependent)
    # Where a site deploys (a Netlify/Vercel integration or local): "admin and up write"
    # (the view moved from integrations to sites with issue 18; same route, same roles).
    f"PUT {SITE}deployment-integration/": ADMINS,
    f"GET {DEPLOYMENT}": EVERYONE,
    f"POST {DEPLOYMENT}rollback/": ADMINS,
    f"POST {DEPLOYMENT}cancel/": MEMBERS,
    f"GET {DEPLOYMENT}render/": EVERYONE,
    f"GET {SITE}domains/": EVERYONE,
    f"POST {SITE}domains/": ADMINS,
    f"GET {DOMAIN}": EVERYONE,
    f"PATCH {DOMAIN}": ADMINS,
    f"DELETE {DOMAIN}": ADMINS,
    f"POST {DOMAIN}verify/": ADMINS,
    f"GET {SITE}analytics/": EVERYONE,
    f"GET {ORG}components/": EVERYONE,
    f"POST {ORG}components/": MEMBERS,
    f"GET {ORG}components/<uuid:component_id>/": EVERYONE,
    f"PATCH {ORG}components/<uuid:component_id>/": MEMBERS,  # is_public: admins
    f"DELETE {ORG}components/<uuid:component_id>/": MEMBERS,
    f"GET {ORG}sections/": EVERYONE,
    f"POST {ORG}sections/": MEMBERS,
    f"GET {ORG}sections/<uuid:section_id>/": EVERYONE,
    f"PATCH {ORG}sections/<uuid:section_id>/": MEMBERS,
    f"DELETE {ORG}sections/<uuid:section_id>/": MEMBERS,
    f"GET {ORG}templates/": EVERYONE,
    f"POST {ORG}templates/": MEMBERS,
    f"GET {ORG}templates/<uuid:template_id>/": EVERYONE,
    f"PATCH {ORG}templates/<uuid:template_id>/": MEMBERS,
    f"DELETE {ORG}templates/<uuid:template_id>/": MEMBERS,
}
