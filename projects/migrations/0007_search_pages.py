"""Search pages with a keyset cursor, like every list.

``app.search_<kind>_after(q, lim, after_rank, after_id)`` is ``app.search_<kind>``
(0004) restricted to the rows that come after ``(after_rank, after_id)`` in the
order ``rank DESC, id``: the next page starts where the last one ended, at the
same cost whatever the page. The function of 0004 stays for the first page's
callers that do not paginate.
"""

from django.db import migrations

TEMPLATE = r"""
CREATE FUNCTION app.search_{name}_after(q tsquery, lim integer, after_rank real, after_id uuid)
RETURNS TABLE (id uuid, rank real)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT s.id, s.rank
      FROM (SELECT t.id, ts_rank(t.search, q) AS rank
              FROM public.{table} t
             WHERE t.organization_id = app.current_org_id()
               AND t.{project_column} <> ALL (app.hidden_project_ids())
               AND t.search @@ q {extra}) s
     WHERE after_rank IS NULL
        OR s.rank < after_rank
        OR (s.rank = after_rank AND s.id > after_id)
     ORDER BY s.rank DESC, s.id
     LIMIT least(lim, 101)
$$;
REVOKE ALL ON FUNCTION app.search_{name}_after(tsquery, integer, real, uuid) FROM PUBLIC;
"""

SEARCHES = [
    ("projects", "projects_project", "id", ""),
    ("files", "projects_projectfile", "project_id", "AND t.deleted_at IS NULL"),
    ("knowledge", "projects_asset", "project_id", "AND t.kind = 'knowledge'"),
]

FORWARD = "".join(
    TEMPLATE.format(name=name, table=table, project_column=column, extra=extra)
    for name, table, column, extra in SEARCHES
)  # execute is granted after every migrate (organizations.tenancy)
REVERSE = "".join(
    f"DROP FUNCTION IF EXISTS app.search_{name}_after(tsquery, integer, real, uuid);\n"
    for name, *_ in SEARCHES
)


class Migration(migrations.Migration):
    dependencies = [("projects", "0006_authors_set_null_by_the_database")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
