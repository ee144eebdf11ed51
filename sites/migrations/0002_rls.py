"""Row Level Security, tenant-safe references and the public site's read path.

Policies (no OR anywhere; writes need a role that may write):

* every table: read within the current organization;
* ``component``, ``section``, ``template``: a **second, permissive** SELECT
  policy admits public rows to every signed-in user (two policies, not an OR);
  they stay writable only by their own organization;
* members and up write sites, pages, versions, comments, deployments and the
  reusable blocks; deleting a site needs an admin; domains are admins' only;
* ``pageversion`` and ``deploymentpage`` have no UPDATE/DELETE policy at all
  (and the grants revoke both: ``append_only``); they disappear only with
  their page or deployment, through the composite foreign keys' cascades,
  which run as the table owner;
* ``pageanalyticsdaily`` is read-only for the runtime roles: views are counted
  by ``app.serve_public_page`` below.

The public site runs with no signed-in user, so it cannot read through the
tenant policies. It reads through one narrow SECURITY DEFINER function,
``app.serve_public_page(org_slug, site_slug, path, new_visitor)``: it answers
only the **pinned version** of one path in the site's **live deployment** (plus
the live deployment's navigation) and counts the view in the same round trip.
``app.public_site_for_host(host)`` maps a *verified* custom domain to its
org/site slugs. Nothing else of a tenant is reachable this way.
"""

from django.db import migrations

ORG = "organizations_organization"

# table -> [(column, parent table, on delete)]
REFERENCES = {
    "sites_template": [],
    "sites_component": [],
    "sites_section": [],
    "sites_site": [
        ("template_id", "sites_template", "SET NULL (template_id)"),
        ("live_deployment_id", "sites_deployment", "SET NULL (live_deployment_id)"),
    ],
    "sites_page": [
        ("site_id", "sites_site", "CASCADE"),
        # NO ACTION: a live or scheduled version cannot be deleted from under its page
        # (a purge racing a publish fails instead of silently unpublishing).
        ("live_version_id", "sites_pageversion", "NO ACTION"),
        ("scheduled_version_id", "sites_pageversion", "NO ACTION"),
    ],
    "sites_pageversion": [
        ("site_id", "sites_site", "CASCADE"),
        ("page_id", "sites_page", "CASCADE"),
    ],
    "sites_pagecomment": [
        ("page_id", "sites_page", "CASCADE"),
        ("version_id", "sites_pageversion", "SET NULL (version_id)"),
        ("parent_id", "sites_pagecomment", "CASCADE"),
    ],
    "sites_pageanalyticsdaily": [
        ("site_id", "sites_site", "CASCADE"),
        ("page_id", "sites_page", "CASCADE"),
    ],
    "sites_deployment": [("site_id", "sites_site", "CASCADE")],
    "sites_deploymentpage": [
        ("deployment_id", "sites_deployment", "CASCADE"),
        ("page_id", "sites_page", "CASCADE"),
        ("version_id", "sites_pageversion", "NO ACTION"),  # pinned: never purged
    ],
    "sites_domain": [("site_id", "sites_site", "CASCADE")],
}

IN_ORG = "organization_id = (SELECT app.current_org_id())"
WRITER = f"{IN_ORG} AND (SELECT app.has_role('{{owner,admin,member}}'))"
ADMIN = f"{IN_ORG} AND (SELECT app.has_role('{{owner,admin}}'))"
PUBLIC = "is_public AND (SELECT app.current_user_id()) IS NOT NULL"

# table -> (select, insert, update, delete); None = no policy (denied)
POLICIES = {
    "sites_site": (IN_ORG, WRITER, WRITER, ADMIN),
    "sites_pageversion": (IN_ORG, WRITER, None, None),
    "sites_deploymentpage": (IN_ORG, WRITER, None, None),
    "sites_pageanalyticsdaily": (IN_ORG, None, None, None),
    "sites_domain": (IN_ORG, ADMIN, ADMIN, ADMIN),
}
for _table in REFERENCES:
    POLICIES.setdefault(_table, (IN_ORG, WRITER, WRITER, WRITER))

PUBLIC_READABLE = ("sites_template", "sites_component", "sites_section")

# Author columns of append-only rows: nulled by the database, not by a Django UPDATE.
USER_REFERENCES = [("sites_pageversion", "author_id", "pageversion_author_fk")]

FUNCTIONS = r"""
CREATE FUNCTION app.serve_public_page(
    org_slug text, site_slug text, page_path text, new_visitor boolean
)
RETURNS TABLE (
    site_status text, site_name text, site_settings jsonb,
    page_id uuid, title text, content jsonb, seo jsonb, nav jsonb
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    s record;
    v record;
BEGIN
    SELECT st.id, st.organization_id, st.name, st.status, st.settings, st.live_deployment_id
      INTO s
      FROM organizations_organization o
      JOIN sites_site st ON st.organization_id = o.id AND st.slug = site_slug
     WHERE o.slug = org_slug AND o.suspended_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF s.status <> 'active' OR s.live_deployment_id IS NULL THEN
        RETURN QUERY SELECT s.status::text, s.name::text, s.settings,
                            NULL::uuid, NULL::text, NULL::jsonb, NULL::jsonb, NULL::jsonb;
        RETURN;
    END IF;
    SELECT pv.page_id, pv.title, pv.content, pv.seo
      INTO v
      FROM sites_deploymentpage dp
      JOIN sites_pageversion pv
        ON pv.organization_id = dp.organization_id AND pv.id = dp.version_id
     WHERE dp.organization_id = s.organization_id
       AND dp.deployment_id = s.live_deployment_id
       AND dp.path = page_path;
    IF FOUND THEN
        INSERT INTO sites_pageanalyticsdaily
               (id, organization_id, created_at, site_id, page_id, day, views, visitors)
        VALUES (gen_random_uuid(), s.organization_id, now(), s.id, v.page_id,
                (now() AT TIME ZONE 'UTC')::date, 1, CASE WHEN new_visitor THEN 1 ELSE 0 END)
        ON CONFLICT ON CONSTRAINT pageanalytics_unique_day DO UPDATE
           SET views = sites_pageanalyticsdaily.views + 1,
               visitors = sites_pageanalyticsdaily.visitors + EXCLUDED.visitors;
    END IF;
    RETURN QUERY
    SELECT s.status::text, s.name::text, s.settings, v.page_id, v.title::text, v.content, v.seo,
           (SELECT coalesce(jsonb_agg(jsonb_build_object('path', dp.path, 'title', pv.title)
                                      ORDER BY dp.path), '[]'::jsonb)
              FROM sites_deploymentpage dp
              JOIN sites_pageversion pv
                ON pv.organization_id = dp.organization_id AND pv.id = dp.version_id
             WHERE dp.organization_id = s.organization_id
               AND dp.deployment_id = s.live_deployment_id);
END
$$;

CREATE FUNCTION app.public_site_for_host(host text)
RETURNS TABLE (org_slug text, site_slug text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT o.slug::text, st.slug::text
      FROM sites_domain d
      JOIN sites_site st ON st.organization_id = d.organization_id AND st.id = d.site_id
      JOIN organizations_organization o ON o.id = d.organization_id
     WHERE d.hostname = lower(host) AND d.status = 'verified'
$$;

REVOKE ALL ON FUNCTION app.serve_public_page(text, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.public_site_for_host(text) FROM PUBLIC;
"""

SEARCH_TEMPLATE = r"""
CREATE FUNCTION app.search_{name}_after(q tsquery, lim integer, after_rank real, after_id uuid)
RETURNS TABLE (id uuid, rank real)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT s.id, s.rank
      FROM (SELECT t.id, ts_rank(t.search, q) AS rank
              FROM public.{table} t
             WHERE t.organization_id = app.current_org_id()
               AND t.search @@ q) s
     WHERE after_rank IS NULL
        OR s.rank < after_rank
        OR (s.rank = after_rank AND s.id > after_id)
     ORDER BY s.rank DESC, s.id
     LIMIT least(lim, 101)
$$;
REVOKE ALL ON FUNCTION app.search_{name}_after(tsquery, integer, real, uuid) FROM PUBLIC;
"""
SEARCHES = [("sites", "sites_site"), ("pages", "sites_page")]


def _forward() -> str:
    sql = [FUNCTIONS]
    sql += [SEARCH_TEMPLATE.format(name=name, table=table) for name, table in SEARCHES]
    for table, refs in REFERENCES.items():
        short = table.removeprefix("sites_")
        sql.append(
            f"ALTER TABLE {table} ADD CONSTRAINT {short}_org_fk FOREIGN KEY (organization_id)"
            f" REFERENCES {ORG} (id) ON DELETE CASCADE;"
        )
        for column, parent, on_delete in refs:
            sql.append(
                f"ALTER TABLE {table} ADD CONSTRAINT {short}_{column.removesuffix('_id')}_fk"
                f" FOREIGN KEY (organization_id, {column})"
                f" REFERENCES {parent} (organization_id, id) ON DELETE {on_delete};"
            )
            sql.append(
                f"CREATE INDEX {short}_{column}_fk_idx ON {table} (organization_id, {column});"
            )
    for table, column, name in USER_REFERENCES:
        sql.append(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column})"
            f" REFERENCES accounts_user (id) ON DELETE SET NULL;"
        )
    for table, (select, insert, update, delete) in POLICIES.items():
        short = table.removeprefix("sites_")
        sql.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;")
        sql.append(f"CREATE POLICY {short}_select ON {table} FOR SELECT USING ({select});")
        if table in PUBLIC_READABLE:
            sql.append(
                f"CREATE POLICY {short}_select_public ON {table} FOR SELECT USING ({PUBLIC});"
            )
        if insert:
            sql.append(f"CREATE POLICY {short}_insert ON {table} FOR INSERT WITH CHECK ({insert});")
        if update:
            sql.append(
                f"CREATE POLICY {short}_update ON {table} FOR UPDATE USING ({update}) WITH CHECK ({update});"
            )
        if delete:
            sql.append(f"CREATE POLICY {short}_delete ON {table} FOR DELETE USING ({delete});")
    return "\n".join(sql)


def _reverse() -> str:
    sql = []
    for table, refs in REFERENCES.items():
        short = table.removeprefix("sites_")
        for policy in ("select", "select_public", "insert", "update", "delete"):
            sql.append(f"DROP POLICY IF EXISTS {short}_{policy} ON {table};")
        sql.append(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;")
        for column, _, _ in refs:
            sql.append(f"DROP INDEX IF EXISTS {short}_{column}_fk_idx;")
            sql.append(
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_{column.removesuffix('_id')}_fk;"
            )
        sql.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_org_fk;")
    for table, _, name in USER_REFERENCES:
        sql.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};")
    for name, _ in SEARCHES:
        sql.append(
            f"DROP FUNCTION IF EXISTS app.search_{name}_after(tsquery, integer, real, uuid);"
        )
    sql.append("DROP FUNCTION IF EXISTS app.public_site_for_host(text);")
    sql.append("DROP FUNCTION IF EXISTS app.serve_public_page(text, text, text, boolean);")
    return "\n".join(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0001_initial"),
        ("organizations", "0002_rls"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunSQL(_forward(), _reverse())]
