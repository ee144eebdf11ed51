"""Pin every tenancy helper's ``search_path`` with ``pg_temp`` last.

``SET search_path = pg_catalog, public`` does not mention ``pg_temp``, and
PostgreSQL then searches the session's temporary schema **first** for tables
and types. A runtime-role session could ``CREATE TEMP TABLE
organizations_membership`` holding a row that makes it owner of any
organization, and every SECURITY DEFINER helper (which runs as the owner and
reads memberships by unqualified name) would believe it. With ``pg_temp``
listed last the real tables win. Helpers that touch no table get
``pg_catalog, pg_temp``: nothing of ours, and a temporary schema that can
shadow nothing.

Only the settings change (``ALTER FUNCTION``): the bodies stay as 0002 wrote
them. A later ``CREATE OR REPLACE`` of one of these functions must carry the
same ``SET search_path`` clause; ``rls_check`` fails otherwise.
"""

from django.db import migrations

DEFINERS = [
    "app.current_org_id()",
    "app.current_role()",
    "app.user_org_ids()",
    "app.enter_org(uuid, text)",
]
INVOKERS = ["app.current_user_id()", "app.has_role(text[])"]

FORWARD = "\n".join(
    [f"ALTER FUNCTION {f} SET search_path = pg_catalog, public, pg_temp;" for f in DEFINERS]
    + [f"ALTER FUNCTION {f} SET search_path = pg_catalog, pg_temp;" for f in INVOKERS]
)
REVERSE = "\n".join(
    [f"ALTER FUNCTION {f} SET search_path = pg_catalog, public;" for f in DEFINERS]
    + [f"ALTER FUNCTION {f} SET search_path = pg_catalog;" for f in INVOKERS]
)


class Migration(migrations.Migration):
    dependencies = [("organizations", "0004_organization_require_mfa")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
