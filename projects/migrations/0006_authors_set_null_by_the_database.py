"""Authors of append-only rows are set to NULL by the database when a user is deleted.

``FileRevision.author`` and ``Snapshot.created_by`` were Django ``SET_NULL``
references: deleting a user made Django run ``UPDATE … SET author_id = NULL``
as the current role, which the runtime roles (elevated too) may not do on an
append-only table, so deleting a user who had written anything failed. Django
now leaves them alone (``DO_NOTHING``, ``db_constraint=False``) and the
database constraint below does it: a referential action runs as the table's
owner, past the grants and RLS, and only ever nulls the column. The runtime
roles still have no UPDATE on either table (``rls_check`` proves it).
"""

from django.conf import settings
from django.db import migrations, models

# table, column, constraint name (like the tenant references of 0002)
REFERENCES = [
    ("projects_filerevision", "author_id", "filerevision_author_fk"),
    ("projects_snapshot", "created_by_id", "snapshot_created_by_fk"),
]

FORWARD = "\n".join(
    f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column})"
    f" REFERENCES accounts_user (id) ON DELETE SET NULL;"
    for table, column, name in REFERENCES
)
REVERSE = "\n".join(
    f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};" for table, _, name in REFERENCES
)


def _user_fk() -> models.ForeignKey:
    return models.ForeignKey(
        blank=True,
        db_constraint=False,
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0005_indexes_for_hot_paths"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Drops Django's NO ACTION constraints (the columns' indexes stay).
        migrations.AlterField(model_name="filerevision", name="author", field=_user_fk()),
        migrations.AlterField(model_name="snapshot", name="created_by", field=_user_fk()),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
