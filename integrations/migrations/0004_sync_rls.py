"""RLS and tenant-safe references of the sync tables (issue 12 §5).

Members and up read, owners and admins write (and so run jobs); viewers and billing
see none — the role is in the SELECT policy too. No OR anywhere; every policy is
anchored to the current organization.
"""

from django.db import migrations

ORG = "organizations_organization"
IN_ORG = "organization_id = (SELECT app.current_org_id())"
ADMIN = "(SELECT app.has_role('{owner,admin}'))"
MEMBER = "(SELECT app.has_role('{owner,admin,member}'))"

# table -> [(column, parent table, on delete)]
REFERENCES = {
    "integrations_datamapping": [("integration_id", "integrations_integration", "CASCADE")],
    "integrations_integrationjob": [("integration_id", "integrations_integration", "CASCADE")],
    "integrations_integrationrecord": [
        ("integration_id", "integrations_integration", "CASCADE"),
        ("job_id", "integrations_integrationjob", "SET NULL (job_id)"),
    ],
}


def _short(table: str) -> str:
    return table.removeprefix("integrations_")


def _forward() -> str:
    sql = []
    for table, refs in REFERENCES.items():
        short = _short(table)
        sql.append(
            f"ALTER TABLE {table} ADD CONSTRAINT {short}_org_fk FOREIGN KEY (organization_id)"
            f" REFERENCES {ORG} (id) ON DELETE CASCADE;"
        )
        for column, parent, on_delete in refs:
            name = column.removesuffix("_id")
            sql.append(
                f"ALTER TABLE {table} ADD CONSTRAINT {short}_{name}_fk"
                f" FOREIGN KEY (organization_id, {column})"
                f" REFERENCES {parent} (organization_id, id) ON DELETE {on_delete};"
            )
            sql.append(
                f"CREATE INDEX {short}_{column}_fk_idx ON {table} (organization_id, {column});"
            )
        sql.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;")
        read, write = f"{IN_ORG} AND {MEMBER}", f"{IN_ORG} AND {ADMIN}"
        sql.append(f"CREATE POLICY {short}_select ON {table} FOR SELECT USING ({read});")
        sql.append(f"CREATE POLICY {short}_insert ON {table} FOR INSERT WITH CHECK ({write});")
        sql.append(
            f"CREATE POLICY {short}_update ON {table} FOR UPDATE USING ({write})"
            f" WITH CHECK ({write});"
        )
        sql.append(f"CREATE POLICY {short}_delete ON {table} FOR DELETE USING ({write});")
    return "\n".join(sql)


def _reverse() -> str:
    sql = []
    for table, refs in reversed(REFERENCES.items()):
        short = _short(table)
        for policy in ("select", "insert", "update", "delete"):
            sql.append(f"DROP POLICY IF EXISTS {short}_{policy} ON {table};")
        sql.append(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;")
        for column, _, _ in refs:
            sql.append(f"DROP INDEX IF EXISTS {short}_{column}_fk_idx;")
            sql.append(
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS"
                f" {short}_{column.removesuffix('_id')}_fk;"
            )
        sql.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_org_fk;")
    return "\n".join(sql)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0003_sync_jobs")]

    operations = [migrations.RunSQL(_forward(), _reverse())]
