"""Row Level Security, tenant-safe references and the SQL helpers of the integrations app.

Policies (no OR anywhere; every one anchored to the current organization):

* ``integrations_apikey`` and the webhook tables: owners and admins only;
* ``integrations_integration``: members and up read, owners and admins write;
* ``integrations_userintegration``: the row's own user only — not even an owner, and
  not an API key its user created (``app.current_api_key_id()`` must be NULL);
* ``integrations_webhookattempt``: append-only (no UPDATE/DELETE grant, no policy);
* ``integrations_platformsecret``: no RLS, because the app role has no privilege on
  it at all (``service_only``, see ``grant_runtime_privileges``).

API keys as a database principal:

* ``app.api_key_authenticate(hash)`` — the key row for a sha256 hash, read before any
  claim exists (authentication), answering only id, organization, creator, scopes, and
  whether it is revoked or when it expires;
* ``app.enter_org_with_key(key, slug, now)`` — like ``app.enter_org``: claims the key's
  creator, the key (``app.api_key_id``) and the organization named by ``slug`` if it is
  the key's own; answers the *lower* of the key's role and the creator's current role,
  and records ``last_used_at`` at most once a minute;
* ``app.enter_org`` (a person's entry) is replaced to drop any key claim too;
* ``app.current_role()`` is replaced: with a key claimed, the role is capped by the
  key's role (and nothing once the key is revoked or expired), so every policy that
  asks for a role applies to a key exactly as to a member with that role. Without a
  key claim it is the same single index lookup as before.

Webhooks: ``app.webhook_fan_out(audit_event_id)`` turns one committed audit event into
a message and one delivery per enabled endpoint of that organization subscribed to
it — built from the audit row itself, so a caller can only re-send events that
happened, to endpoints their organization configured (idempotent: one message per
event). ``app.webhook_due_count(at)`` tells the worker whether there is anything to do
before it elevates.
"""

from django.db import migrations

ORG = "organizations_organization"
SECURE = "SET search_path = pg_catalog, public, pg_temp"

# table -> [(column, parent table, on delete)]
REFERENCES = {
    "integrations_apikey": [],
    "integrations_integration": [],
    "integrations_userintegration": [],
    "integrations_webhookendpoint": [],
    "integrations_webhookmessage": [],
    "integrations_webhookdelivery": [
        ("endpoint_id", "integrations_webhookendpoint", "CASCADE"),
        ("message_id", "integrations_webhookmessage", "CASCADE"),
    ],
    "integrations_webhookattempt": [("delivery_id", "integrations_webhookdelivery", "CASCADE")],
}

IN_ORG = "organization_id = (SELECT app.current_org_id())"
ADMIN = "(SELECT app.has_role('{owner,admin}'))"
MEMBER = "(SELECT app.has_role('{owner,admin,member}'))"
ME = "user_id = (SELECT app.current_user_id())"
# A person's own keys are theirs, not their organization's machines'.
NO_KEY = "(SELECT app.current_api_key_id()) IS NULL"

# table -> (select, insert, update, delete); None = no policy (denied)
POLICIES = {
    "integrations_apikey": (*[f"{IN_ORG} AND {ADMIN}"] * 4,),
    "integrations_integration": (f"{IN_ORG} AND {MEMBER}", *[f"{IN_ORG} AND {ADMIN}"] * 3),
    "integrations_userintegration": (*[f"{IN_ORG} AND {ME} AND {NO_KEY}"] * 4,),
    "integrations_webhookendpoint": (*[f"{IN_ORG} AND {ADMIN}"] * 4,),
    "integrations_webhookmessage": (*[f"{IN_ORG} AND {ADMIN}"] * 4,),
    "integrations_webhookdelivery": (*[f"{IN_ORG} AND {ADMIN}"] * 4,),
    "integrations_webhookattempt": (f"{IN_ORG} AND {ADMIN}", f"{IN_ORG} AND {ADMIN}", None, None),
}

HELPERS = r"""
CREATE FUNCTION app.current_api_key_id() RETURNS uuid
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT NULLIF(current_setting('app.api_key_id', true), '')::uuid
$$;
REVOKE ALL ON FUNCTION app.current_api_key_id() FROM PUBLIC;
"""

FUNCTIONS = rf"""
CREATE FUNCTION app.lower_role(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
    SELECT CASE WHEN ra IS NULL OR rb IS NULL THEN NULL WHEN ra <= rb THEN a ELSE b END
      FROM (SELECT array_position(ARRAY['viewer', 'member', 'admin', 'owner'], a) AS ra,
                   array_position(ARRAY['viewer', 'member', 'admin', 'owner'], b) AS rb) r
$$;

CREATE OR REPLACE FUNCTION app.current_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER {SECURE} AS $$
    SELECT CASE
             WHEN NULLIF(current_setting('app.api_key_id', true), '') IS NULL THEN m.role
             ELSE (SELECT app.lower_role(k.role, m.role)
                     FROM integrations_apikey k
                    WHERE k.id = NULLIF(current_setting('app.api_key_id', true), '')::uuid
                      AND k.organization_id = m.organization_id
                      AND k.created_by_id = m.user_id
                      AND k.revoked_at IS NULL
                      AND coalesce(k.expires_at, 'infinity') > now())
           END
      FROM organizations_membership m
     WHERE m.organization_id = NULLIF(current_setting('app.org_id', true), '')::uuid
       AND m.user_id = NULLIF(current_setting('app.user_id', true), '')::uuid
$$;

-- The person's entry (organizations 0002) also drops any key claim, so a key claimed
-- earlier in the same transaction never caps (or outlives into) a person's request.
CREATE OR REPLACE FUNCTION app.enter_org(user_id uuid, org_slug text)
RETURNS TABLE (organization_id uuid, role text, suspended boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {SECURE} AS $$
DECLARE
    found_org uuid;
    found_role text;
    found_suspended boolean;
BEGIN
    PERFORM set_config('app.user_id', coalesce(user_id::text, ''), true);
    PERFORM set_config('app.api_key_id', '', true);
    SELECT o.id, m.role, o.suspended_at IS NOT NULL
      INTO found_org, found_role, found_suspended
      FROM organizations_organization o
      JOIN organizations_membership m ON m.organization_id = o.id
     WHERE o.slug = org_slug AND m.user_id = enter_org.user_id;
    PERFORM set_config('app.org_id', coalesce(found_org::text, ''), true);
    IF found_org IS NOT NULL THEN
        RETURN QUERY SELECT found_org, found_role, found_suspended;
    END IF;
END
$$;

CREATE FUNCTION app.api_key_authenticate(key_hash text)
RETURNS TABLE (id uuid, organization_id uuid, created_by_id uuid, revoked boolean,
               expires_at timestamptz, scopes varchar[])
LANGUAGE sql STABLE SECURITY DEFINER {SECURE} AS $$
    SELECT k.id, k.organization_id, k.created_by_id, k.revoked_at IS NOT NULL, k.expires_at,
           k.scopes
      FROM integrations_apikey k
     WHERE k.hashed_key = key_hash
$$;

CREATE FUNCTION app.enter_org_with_key(key_id uuid, org_slug text, used_at timestamptz)
RETURNS TABLE (organization_id uuid, role text, suspended boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {SECURE} AS $$
#variable_conflict use_column
DECLARE
    key_org uuid;
    key_user uuid;
    key_role text;
    found_org uuid;
    found_role text;
    found_suspended boolean;
BEGIN
    SELECT k.organization_id, k.created_by_id, k.role INTO key_org, key_user, key_role
      FROM integrations_apikey k
     WHERE k.id = key_id AND k.revoked_at IS NULL
       AND coalesce(k.expires_at, 'infinity') > now();
    PERFORM set_config('app.user_id', coalesce(key_user::text, ''), true);
    PERFORM set_config('app.api_key_id', CASE WHEN key_user IS NULL THEN '' ELSE key_id::text END, true);
    SELECT o.id, app.lower_role(key_role, m.role), o.suspended_at IS NOT NULL
      INTO found_org, found_role, found_suspended
      FROM organizations_organization o
      JOIN organizations_membership m ON m.organization_id = o.id
     WHERE o.slug = org_slug AND o.id = key_org AND m.user_id = key_user;
    IF found_role IS NULL THEN
        found_org := NULL;
    END IF;
    PERFORM set_config('app.org_id', coalesce(found_org::text, ''), true);
    IF found_org IS NOT NULL THEN
        UPDATE integrations_apikey k SET last_used_at = used_at
         WHERE k.id = key_id
           AND coalesce(k.last_used_at, '-infinity') < used_at - interval '1 minute';
        RETURN QUERY SELECT found_org, found_role, found_suspended;
    END IF;
END
$$;

CREATE FUNCTION app.webhook_fan_out(event_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {SECURE} AS $$
DECLARE
    e audit_auditevent%ROWTYPE;
    message_id uuid;
    created integer;
BEGIN
    SELECT * INTO e FROM audit_auditevent a WHERE a.id = event_id;
    IF e.organization_id IS NULL OR e.action LIKE 'system.%' THEN
        RETURN 0;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM integrations_webhookendpoint w
         WHERE w.organization_id = e.organization_id AND w.status = 'enabled'
           AND w.event_types && ARRAY[e.action, '*']::varchar[]) THEN
        RETURN 0;
    END IF;
    INSERT INTO integrations_webhookmessage (id, organization_id, created_at, event_type, payload, audit_event_id)
    VALUES (gen_random_uuid(), e.organization_id, now(), e.action,
            jsonb_build_object(
                'type', e.action,
                'timestamp', e.created_at,
                'data', jsonb_build_object(
                    'event_id', e.id,
                    'organization_id', e.organization_id,
                    'actor', jsonb_build_object('type', e.actor_type, 'id', e.actor_id, 'label', e.actor_label),
                    'target', jsonb_build_object('type', e.target_type, 'id', e.target_id),
                    'changes', e.changes)),
            e.id)
    ON CONFLICT (organization_id, audit_event_id) DO NOTHING
    RETURNING id INTO message_id;
    IF message_id IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO integrations_webhookdelivery
        (id, organization_id, created_at, updated_at, endpoint_id, message_id, status,
         attempt_count, next_attempt_at, last_response, last_error)
    SELECT gen_random_uuid(), w.organization_id, now(), now(), w.id, message_id, 'pending',
           0, now(), '', ''
      FROM integrations_webhookendpoint w
     WHERE w.organization_id = e.organization_id AND w.status = 'enabled'
       AND w.event_types && ARRAY[e.action, '*']::varchar[];
    GET DIAGNOSTICS created = ROW_COUNT;
    RETURN created;
END
$$;

CREATE FUNCTION app.webhook_due_count(at timestamptz) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER {SECURE} AS $$
    SELECT count(*) FROM integrations_webhookdelivery d
     WHERE d.status = 'pending' AND d.next_attempt_at <= at
$$;

REVOKE ALL ON FUNCTION app.lower_role(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.api_key_authenticate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.enter_org_with_key(uuid, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.webhook_fan_out(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.webhook_due_count(timestamptz) FROM PUBLIC;
"""

ORIGINAL_CURRENT_ROLE = r"""
CREATE OR REPLACE FUNCTION app.enter_org(user_id uuid, org_slug text)
RETURNS TABLE (organization_id uuid, role text, suspended boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    found_org uuid;
    found_role text;
    found_suspended boolean;
BEGIN
    PERFORM set_config('app.user_id', coalesce(user_id::text, ''), true);
    SELECT o.id, m.role, o.suspended_at IS NOT NULL
      INTO found_org, found_role, found_suspended
      FROM organizations_organization o
      JOIN organizations_membership m ON m.organization_id = o.id
     WHERE o.slug = org_slug AND m.user_id = enter_org.user_id;
    PERFORM set_config('app.org_id', coalesce(found_org::text, ''), true);
    IF found_org IS NOT NULL THEN
        RETURN QUERY SELECT found_org, found_role, found_suspended;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION app.current_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.role
      FROM organizations_membership m
     WHERE m.organization_id = NULLIF(current_setting('app.org_id', true), '')::uuid
       AND m.user_id = NULLIF(current_setting('app.user_id', true), '')::uuid
$$;
"""


def _short(table: str) -> str:
    return table.removeprefix("integrations_")


def _forward() -> str:
    sql = [HELPERS]
    for table, refs in REFERENCES.items():
        short = _short(table)
        sql.append(
            f"ALTER TABLE {table} ADD CONSTRAINT {short}_org_fk FOREIGN KEY (organization_id)"
            f" REFERENCES {ORG} (id) ON DELETE CASCADE;"
        )
        for column, parent, on_delete in refs:
            sql.append(
                f"ALTER TABLE {table} ADD CONSTRAINT {short}_{column.removesuffix('_id')}_fk"
                f" FOREIGN KEY (organization_id, {column})"
                f" REFERENCES {parent} (organization_id, id) ON DELETE {on_delete};"
            )
            sql.append(
                f"CREATE INDEX {short}_{column}_fk_idx ON {table} (organization_id, {column});"
            )
    sql.append(
        "CREATE INDEX userintegration_user_idx"
        " ON integrations_userintegration (organization_id, user_id);"
    )
    for table, (select, insert, update, delete) in POLICIES.items():
        short = _short(table)
        sql.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;")
        sql.append(f"CREATE POLICY {short}_select ON {table} FOR SELECT USING ({select});")
        if insert:
            sql.append(f"CREATE POLICY {short}_insert ON {table} FOR INSERT WITH CHECK ({insert});")
        if update:
            sql.append(
                f"CREATE POLICY {short}_update ON {table} FOR UPDATE USING ({update}) WITH CHECK ({update});"
            )
        if delete:
            sql.append(f"CREATE POLICY {short}_delete ON {table} FOR DELETE USING ({delete});")
    sql.append(FUNCTIONS)
    return "\n".join(sql)


def _reverse() -> str:
    sql = [
        ORIGINAL_CURRENT_ROLE,
        "DROP FUNCTION IF EXISTS app.webhook_due_count(timestamptz);",
        "DROP FUNCTION IF EXISTS app.webhook_fan_out(uuid);",
        "DROP FUNCTION IF EXISTS app.enter_org_with_key(uuid, text, timestamptz);",
        "DROP FUNCTION IF EXISTS app.api_key_authenticate(text);",
        "DROP FUNCTION IF EXISTS app.lower_role(text, text);",
        "DROP INDEX IF EXISTS userintegration_user_idx;",
    ]
    tail = ["DROP FUNCTION IF EXISTS app.current_api_key_id();"]
    for table, refs in REFERENCES.items():
        short = _short(table)
        for policy in ("select", "insert", "update", "delete"):
            sql.append(f"DROP POLICY IF EXISTS {short}_{policy} ON {table};")
        sql.append(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;")
        for column, _, _ in refs:
            sql.append(f"DROP INDEX IF EXISTS {short}_{column}_fk_idx;")
            sql.append(
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_{column.removesuffix('_id')}_fk;"
            )
        sql.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_org_fk;")
    return "\n".join(sql + tail)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("organizations", "0002_rls"),
        ("audit", "0003_inline_audit_hash"),
    ]

    operations = [migrations.RunSQL(_forward(), _reverse())]
