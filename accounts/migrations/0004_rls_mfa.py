"""Row Level Security for the MFA tables: a user sees only their own authenticator
and recovery codes (the same shape as ``accounts_usersettings``)."""

from django.db import migrations

FORWARD = r"""
ALTER TABLE accounts_totpdevice ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts_totpdevice FORCE ROW LEVEL SECURITY;
CREATE POLICY totpdevice_own ON accounts_totpdevice FOR ALL
    USING (user_id = (SELECT app.current_user_id()))
    WITH CHECK (user_id = (SELECT app.current_user_id()));
ALTER TABLE accounts_recoverycode ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts_recoverycode FORCE ROW LEVEL SECURITY;
CREATE POLICY recoverycode_own ON accounts_recoverycode FOR ALL
    USING (user_id = (SELECT app.current_user_id()))
    WITH CHECK (user_id = (SELECT app.current_user_id()));
"""

REVERSE = r"""
DROP POLICY IF EXISTS recoverycode_own ON accounts_recoverycode;
ALTER TABLE accounts_recoverycode NO FORCE ROW LEVEL SECURITY;
ALTER TABLE accounts_recoverycode DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS totpdevice_own ON accounts_totpdevice;
ALTER TABLE accounts_totpdevice NO FORCE ROW LEVEL SECURITY;
ALTER TABLE accounts_totpdevice DISABLE ROW LEVEL SECURITY;
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_mfa_email_verification_refresh_grace")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
