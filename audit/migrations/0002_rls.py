"""The audit trail: append-only, hash-chained, readable by owners and admins.

* INSERT: any member of the current organization (their actions are audited),
  or a signed-in user for their own platform event (organization NULL).
* SELECT: owners and admins of the current organization.
* No UPDATE or DELETE policy, and no UPDATE/DELETE/TRUNCATE grant either
  (``grant_runtime_privileges`` revokes them for ``append_only`` models).
* A BEFORE INSERT trigger numbers each organization's events and chains them:
  ``hash = sha256(prev_hash | id | org | sequence | ... | created_at)``,
  serialised per organization by a transaction-scoped advisory lock.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION app.audit_hash(e audit_auditevent) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        e.prev_hash, e.id::text, coalesce(e.organization_id::text, ''), e.sequence::text,
        e.action, e.actor_type, coalesce(e.actor_id::text, ''), e.actor_label,
        e.target_type, e.target_id, e.changes::text, coalesce(host(e.ip_address), ''),
        e.user_agent, e.request_id,
        to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
    ), 'UTF8')), 'hex')
$$;

CREATE FUNCTION app.audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    last_sequence bigint;
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtextextended('audit:' || coalesce(NEW.organization_id::text, 'platform'), 0));
    IF NEW.organization_id IS NULL THEN
        SELECT a.sequence, a.hash INTO last_sequence, last_hash FROM audit_auditevent a
         WHERE a.organization_id IS NULL ORDER BY a.sequence DESC LIMIT 1;
    ELSE
        SELECT a.sequence, a.hash INTO last_sequence, last_hash FROM audit_auditevent a
         WHERE a.organization_id = NEW.organization_id ORDER BY a.sequence DESC LIMIT 1;
    END IF;
    NEW.sequence := coalesce(last_sequence, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, '');
    NEW.hash := app.audit_hash(NEW);
    RETURN NEW;
END
$$;

REVOKE ALL ON FUNCTION app.audit_hash(audit_auditevent) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.audit_chain() FROM PUBLIC;

CREATE TRIGGER audit_chain BEFORE INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION app.audit_chain();

ALTER TABLE audit_auditevent ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_auditevent FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_select ON audit_auditevent FOR SELECT
    USING (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')));
CREATE POLICY audit_insert_org ON audit_auditevent FOR INSERT
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
CREATE POLICY audit_insert_platform ON audit_auditevent FOR INSERT
    WITH CHECK (organization_id IS NULL AND actor_id = (SELECT app.current_user_id()));
"""

REVERSE = r"""
DROP POLICY IF EXISTS audit_insert_platform ON audit_auditevent;
DROP POLICY IF EXISTS audit_insert_org ON audit_auditevent;
DROP POLICY IF EXISTS audit_select ON audit_auditevent;
ALTER TABLE audit_auditevent NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_auditevent DISABLE ROW LEVEL SECURITY;
DROP TRIGGER IF EXISTS audit_chain ON audit_auditevent;
DROP FUNCTION IF EXISTS app.audit_chain();
DROP FUNCTION IF EXISTS app.audit_hash(audit_auditevent);
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("organizations", "0002_rls")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
