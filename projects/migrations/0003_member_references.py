"""Project members and favorites belong to org members.

A composite foreign key to ``organizations_membership (organization_id,
user_id)`` means a project role or a favorite can only exist for someone in
the organization, and disappears with their membership (removed, or left):
rejoining later does not resurrect old project rights.
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE projects_projectmember ADD CONSTRAINT projectmember_membership_fk
    FOREIGN KEY (organization_id, user_id)
    REFERENCES organizations_membership (organization_id, user_id) ON DELETE CASCADE;
ALTER TABLE projects_favorite ADD CONSTRAINT favorite_membership_fk
    FOREIGN KEY (organization_id, user_id)
    REFERENCES organizations_membership (organization_id, user_id) ON DELETE CASCADE;
"""

REVERSE = r"""
ALTER TABLE projects_favorite DROP CONSTRAINT IF EXISTS favorite_membership_fk;
ALTER TABLE projects_projectmember DROP CONSTRAINT IF EXISTS projectmember_membership_fk;
"""


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_rls"), ("organizations", "0002_rls")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
