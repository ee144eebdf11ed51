"""Row Level Security for per-user tables: a user sees only their own settings.

``accounts_user`` and ``accounts_session`` stay global on purpose: they are
read by authentication before any claim exists (see ``rls_check``).
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE accounts_usersettings ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts_usersettings FORCE ROW LEVEL SECURITY;
CREATE POLICY usersettings_own ON accounts_usersettings FOR ALL
    USING (user_id = (SELECT app.current_user_id()))
    WITH CHECK (user_id = (SELECT app.current_user_id()));
"""

REVERSE = r"""
DROP POLICY IF EXISTS usersettings_own ON accounts_usersettings;
ALTER TABLE accounts_usersettings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE accounts_usersettings DISABLE ROW LEVEL SECURITY;
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("organizations", "0002_rls")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
