"""Full-text search that can use the GIN indexes under RLS.

``@@`` is not LEAKPROOF, so in a query on an RLS table PostgreSQL must apply
the policies before it, and cannot drive the search through the GIN index:
it would filter every row of the organization. These functions run the
search itself as the definer (owner, BYPASSRLS) with the same restrictions
the policies apply — current organization, minus hidden projects — and
return ids and ranks; the caller then loads those rows through the ORM,
where RLS checks every row again.
"""

from django.db import migrations

TEMPLATE = r"""
CREATE FUNCTION app.search_{name}(q tsquery, lim integer) RETURNS TABLE (id uuid, rank real)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.id, ts_rank(t.search, q)
      FROM {table} t
     WHERE t.organization_id = app.current_org_id()
       AND t.{project_column} <> ALL (app.hidden_project_ids())
       AND t.search @@ q {extra}
     ORDER BY 2 DESC, 1
     LIMIT least(lim, 50)
$$;
REVOKE ALL ON FUNCTION app.search_{name}(tsquery, integer) FROM PUBLIC;
"""

SEARCHES = [
    ("projects", "projects_project", "id", ""),
    ("files", "projects_projectfile", "project_id", "AND t.deleted_at IS NULL"),
    ("knowledge", "projects_asset", "project_id", "AND t.kind = 'knowledge'"),
]

FORWARD = "".join(
    TEMPLATE.format(name=name, table=table, project_column=column, extra=extra)
    for name, table, column, extra in SEARCHES
)
REVERSE = "".join(
    f"DROP FUNCTION IF EXISTS app.search_{name}(tsquery, integer);\n" for name, *_ in SEARCHES
)


class Migration(migrations.Migration):
    dependencies = [("projects", "0003_member_references")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
