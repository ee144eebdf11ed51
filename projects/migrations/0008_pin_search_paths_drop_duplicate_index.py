"""Pin the projects helpers' ``search_path`` with ``pg_temp`` last; drop a duplicate index.

* The SECURITY DEFINER helpers (visibility arrays, index-driven searches)
  read ``projects_project``/``projects_projectmember`` by unqualified name
  with ``search_path = pg_catalog, public``: PostgreSQL searches ``pg_temp``
  before both, so a runtime-role session's temporary table of the same name
  would answer for the real one. ``pg_temp`` is now last. Only the setting
  changes; the bodies stay as 0002/0004 wrote them.
* ``snapshotentry_snapshot_idx`` (the model's Meta index) and
  ``snapshotentry_snapshot_id_fk_idx`` (0002's composite foreign key index)
  were both ``(organization_id, snapshot_id)``: one index maintained twice on
  every insert. The model's one goes; the foreign key's stays.
"""

from django.db import migrations

DEFINERS = [
    "app.hidden_project_ids()",
    "app.readonly_project_ids()",
    "app.search_projects(tsquery, integer)",
    "app.search_files(tsquery, integer)",
    "app.search_knowledge(tsquery, integer)",
]

FORWARD = "\n".join(
    f"ALTER FUNCTION {f} SET search_path = pg_catalog, public, pg_temp;" for f in DEFINERS
)
REVERSE = "\n".join(f"ALTER FUNCTION {f} SET search_path = pg_catalog, public;" for f in DEFINERS)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0007_search_pages"),
        ("organizations", "0005_pin_function_search_paths"),
    ]

    operations = [
        migrations.RunSQL(FORWARD, REVERSE),
        migrations.RemoveIndex(model_name="snapshotentry", name="snapshotentry_snapshot_idx"),
    ]
