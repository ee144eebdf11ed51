"""The two "live" pointers (a page's live version, a site's live deployment) may be
checked at commit when a transaction asks for it (``DEFERRABLE INITIALLY IMMEDIATE``:
every other transaction still checks them at once, as before).

A page and its versions reference each other, and so do a site and its deployments.
A bulk load (``seed --scale``) writes the pointer with the row and defers the check,
instead of an ``UPDATE`` of every page afterwards (a second version of each row, every
index updated: 1.6 s of the 8.6 s the W6 benchmark measures).
"""

from django.db import migrations

POINTERS = [("sites_page", "page_live_version_fk"), ("sites_site", "site_live_deployment_fk")]


class Migration(migrations.Migration):
    dependencies = [("sites", "0003_deployment_integration")]

    operations = [
        migrations.RunSQL(
            sql=[
                f"ALTER TABLE {table} ALTER CONSTRAINT {name} DEFERRABLE INITIALLY IMMEDIATE;"
                for table, name in POINTERS
            ],
            reverse_sql=[
                f"ALTER TABLE {table} ALTER CONSTRAINT {name} NOT DEFERRABLE;"
                for table, name in POINTERS
            ],
        )
    ]
