"""The feed's notification trigger and narrow definers.

* ``realtime_notify``: an AFTER INSERT trigger on the audit trail. Every organization
  event (but the ``system.*`` bookkeeping) does ``NOTIFY app_events,
  '<organization id>:<sequence>'``; an account event that may end someone's streams
  (a session revoked, a password changed; ``realtime.catalog.ACCOUNT_ACTIONS``) does
  ``NOTIFY app_events, '-'``. PostgreSQL delivers a notification when — and only if —
  the recording transaction commits, in commit order: the audit row and its
  announcement cannot disagree, and the writer pays no extra round trip (ADR 0016).

The realtime hub (``realtime/hub.py``) runs outside any request: it has no claims, so
Row Level Security shows it nothing. Like ``app.webhook_fan_out`` it reads through
SECURITY DEFINER functions that answer one question each, pinned ``search_path``
with ``pg_temp`` last, not executable by PUBLIC (the runtime roles get EXECUTE after
migrate):

* ``app.realtime_events(org, members, after, max_count)`` — an organization's audit
  events after a sequence number, in order, with what visibility needs: the project an
  event belongs to (private or not, and its project members) and the site. Only for an
  organization one of ``members`` belongs to (the process serves them), never another.
* ``app.realtime_head(org, members)`` — the organization's last sequence number.
* ``app.realtime_access(streams)`` — for a batch of open streams, which may go on and
  with which role now: the session still open (or the key unrevoked and unexpired), the
  account active (with MFA if the organization requires it), still a member (a key
  capped by ``app.lower_role``), the organization not suspended, and the topic projects that are no longer visible to the subscriber.
  One statement for every stream of the process (it runs every few seconds).
"""

from django.db import migrations

SECURE = "SET search_path = pg_catalog, public, pg_temp"

# realtime.catalog.ACCOUNT_ACTIONS (tests/realtime/test_notify.py keeps them equal).
ACCOUNT_ACTIONS = (
    "staff.user_deleted",
    "staff.user_updated",
    "user.deactivated",
    "user.mfa_enabled",
    "user.mfa_reset",
    "user.password_changed",
    "user.password_reset",
    "user.session_revoked",
    "user.sessions_ended",
)

FORWARD = rf"""
CREATE FUNCTION app.realtime_notify() RETURNS trigger
LANGUAGE plpgsql {SECURE} AS $$
BEGIN
    IF NEW.organization_id IS NOT NULL THEN
        IF NEW.action NOT LIKE 'system.%' THEN
            PERFORM pg_notify('app_events', NEW.organization_id::text || ':' || NEW.sequence);
        END IF;
    ELSIF NEW.action = ANY (ARRAY[{", ".join(f"'{a}'" for a in ACCOUNT_ACTIONS)}]) THEN
        PERFORM pg_notify('app_events', '-');
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION app.realtime_notify() FROM PUBLIC;
CREATE TRIGGER realtime_notify AFTER INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION app.realtime_notify();
CREATE FUNCTION app.uuid_or_null(value text) RETURNS uuid
LANGUAGE sql IMMUTABLE {SECURE} AS $$
    SELECT CASE WHEN value ~* '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$'
                THEN value::uuid END
$$;

CREATE FUNCTION app.realtime_events(org uuid, members uuid[], after bigint, max_count integer)
RETURNS TABLE (sequence bigint, action text, actor_type text, actor_id uuid, target_type text,
               target_id text, changes jsonb, created_at timestamptz, project_id uuid,
               project_private boolean, project_members uuid[], site_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER {SECURE} AS $$
    SELECT e.sequence, e.action, e.actor_type, e.actor_id, e.target_type, e.target_id,
           e.changes, e.created_at,
           coalesce(p.id, ref.project_id),
           CASE WHEN p.id IS NOT NULL THEN p.visibility = 'private'
                ELSE (e.changes ->> 'visibility') IS DISTINCT FROM 'org' END,
           CASE WHEN p.visibility = 'private' THEN ARRAY(
               SELECT pm.user_id FROM projects_projectmember pm
                WHERE pm.organization_id = org AND pm.project_id = p.id) END,
           coalesce(
               CASE e.target_type
                   WHEN 'sites.site' THEN app.uuid_or_null(e.target_id)
                   WHEN 'sites.page' THEN (SELECT pg.site_id FROM sites_page pg
                        WHERE pg.organization_id = org AND pg.id = app.uuid_or_null(e.target_id))
                   WHEN 'sites.pagecomment' THEN (SELECT pg.site_id FROM sites_pagecomment c
                        JOIN sites_page pg ON pg.organization_id = c.organization_id AND pg.id = c.page_id
                        WHERE c.organization_id = org AND c.id = app.uuid_or_null(e.target_id))
                   WHEN 'sites.deployment' THEN (SELECT d.site_id FROM sites_deployment d
                        WHERE d.organization_id = org AND d.id = app.uuid_or_null(e.target_id))
                   WHEN 'sites.domain' THEN (SELECT d.site_id FROM sites_domain d
                        WHERE d.organization_id = org AND d.id = app.uuid_or_null(e.target_id))
               END,
               (SELECT s.id FROM sites_site s
                 WHERE s.organization_id = org AND s.slug = e.changes ->> 'site'))
      FROM audit_auditevent e
      CROSS JOIN LATERAL (SELECT CASE WHEN e.target_type = 'projects.project'
                                      THEN app.uuid_or_null(e.target_id)
                                      ELSE app.uuid_or_null(e.changes ->> 'project') END) ref(project_id)
      LEFT JOIN projects_project p ON p.organization_id = org AND p.id = ref.project_id
     WHERE e.organization_id = org AND e.sequence > after
       AND e.action NOT LIKE 'system.%'
       AND EXISTS (SELECT 1 FROM organizations_membership m
                    WHERE m.organization_id = org AND m.user_id = ANY (members))
     ORDER BY e.sequence
     LIMIT max_count
$$;

CREATE FUNCTION app.realtime_head(org uuid, members uuid[]) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER {SECURE} AS $$
    SELECT coalesce(max(e.sequence), 0) FROM audit_auditevent e
     WHERE e.organization_id = org
       AND EXISTS (SELECT 1 FROM organizations_membership m
                    WHERE m.organization_id = org AND m.user_id = ANY (members))
$$;

CREATE FUNCTION app.realtime_access(streams jsonb)
RETURNS TABLE (stream text, role text, suspended boolean, lost_projects uuid[])
LANGUAGE sql STABLE SECURITY DEFINER {SECURE} AS $$
    SELECT s.stream, r.role, o.suspended_at IS NOT NULL,
           ARRAY(SELECT t.pid FROM unnest(coalesce(s.projects, '{{}}'::uuid[])) t(pid)
                  WHERE NOT EXISTS (
                      SELECT 1 FROM projects_project p
                       WHERE p.organization_id = s.org AND p.id = t.pid
                         AND (p.visibility <> 'private' OR r.role IN ('owner', 'admin')
                              OR EXISTS (SELECT 1 FROM projects_projectmember pm
                                          WHERE pm.organization_id = s.org
                                            AND pm.project_id = p.id
                                            AND pm.user_id = s.user_id))))
      FROM jsonb_to_recordset(streams)
           AS s(stream text, org uuid, user_id uuid, session uuid, api_key uuid, projects uuid[])
      JOIN accounts_user u ON u.id = s.user_id AND u.is_active
      JOIN organizations_organization o ON o.id = s.org
      JOIN organizations_membership m ON m.organization_id = s.org AND m.user_id = s.user_id
      LEFT JOIN integrations_apikey k
             ON k.id = s.api_key AND k.organization_id = s.org AND k.created_by_id = s.user_id
            AND k.revoked_at IS NULL AND coalesce(k.expires_at, 'infinity') > now()
      CROSS JOIN LATERAL (SELECT CASE WHEN s.api_key IS NULL THEN m.role
                                      ELSE app.lower_role(k.role, m.role) END) r(role)
     WHERE r.role IS NOT NULL
       AND (u.mfa_enabled OR NOT o.require_mfa)  -- as the API refuses them (mfa_required)
       AND (s.api_key IS NOT NULL OR EXISTS (
            SELECT 1 FROM accounts_session se
             WHERE se.id = s.session AND se.user_id = s.user_id
               AND se.revoked_at IS NULL AND se.expires_at > now()))
$$;

REVOKE ALL ON FUNCTION app.uuid_or_null(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.realtime_events(uuid, uuid[], bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.realtime_head(uuid, uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.realtime_access(jsonb) FROM PUBLIC;
"""

REVERSE = """
DROP TRIGGER IF EXISTS realtime_notify ON audit_auditevent;
DROP FUNCTION IF EXISTS app.realtime_notify();
DROP FUNCTION IF EXISTS app.realtime_access(jsonb);
DROP FUNCTION IF EXISTS app.realtime_head(uuid, uuid[]);
DROP FUNCTION IF EXISTS app.realtime_events(uuid, uuid[], bigint, integer);
DROP FUNCTION IF EXISTS app.uuid_or_null(text);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_pin_search_paths"),
        ("accounts", "0005_secrets_behind_definers"),
        ("organizations", "0005_pin_function_search_paths"),
        ("projects", "0009_plural_names"),
        ("sites", "0005_production_follows_publishing"),
        ("integrations", "0005_plural_names"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
