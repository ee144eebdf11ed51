"""Row Level Security for the tenancy tables, and the SQL helpers every policy uses.

Claims are transaction-local settings: ``app.user_id`` and ``app.org_id``.
The helpers turn them into facts the database checked itself: "the current
organization, if this user is a member" and "my role in it". They are
SECURITY DEFINER (owned by the migration role, which bypasses RLS, so they
can read memberships without recursing into the policies), STABLE, with a
fixed search_path, and not executable by PUBLIC (the runtime roles are
granted EXECUTE after migrate). Missing and empty claims both mean "nobody".

Policies compare ``organization_id`` with a value computed once per
statement — ``(SELECT app.current_org_id())`` — so the organization-leading
indexes serve them; no OR, no correlated membership sub-queries.
"""

from django.db import migrations

FORWARD = r"""
CREATE SCHEMA IF NOT EXISTS app;
REVOKE ALL ON SCHEMA app FROM PUBLIC;

CREATE FUNCTION app.current_user_id() RETURNS uuid
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT NULLIF(current_setting('app.user_id', true), '')::uuid
$$;

CREATE FUNCTION app.current_org_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.organization_id
      FROM organizations_membership m
     WHERE m.organization_id = NULLIF(current_setting('app.org_id', true), '')::uuid
       AND m.user_id = NULLIF(current_setting('app.user_id', true), '')::uuid
$$;

CREATE FUNCTION app.current_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.role
      FROM organizations_membership m
     WHERE m.organization_id = NULLIF(current_setting('app.org_id', true), '')::uuid
       AND m.user_id = NULLIF(current_setting('app.user_id', true), '')::uuid
$$;

CREATE FUNCTION app.has_role(roles text[]) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT coalesce(app.current_role() = ANY (roles), false)
$$;

CREATE FUNCTION app.user_org_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT coalesce(array_agg(m.organization_id), '{}')
      FROM organizations_membership m
     WHERE m.user_id = NULLIF(current_setting('app.user_id', true), '')::uuid
$$;

-- One round trip per request: claim the user, and the organization named by
-- `org_slug` only if the user belongs to it; answer the membership found.
CREATE FUNCTION app.enter_org(user_id uuid, org_slug text)
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

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA app FROM PUBLIC;

-- organizations: members see their organizations; admins edit, owners delete.
-- Creation happens in the service context (the creator is not a member yet).
ALTER TABLE organizations_organization ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations_organization FORCE ROW LEVEL SECURITY;
CREATE POLICY org_select ON organizations_organization FOR SELECT
    USING (id = ANY ((SELECT app.user_org_ids())::uuid[]));
CREATE POLICY org_update ON organizations_organization FOR UPDATE
    USING (id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')))
    WITH CHECK (id = (SELECT app.current_org_id()));
CREATE POLICY org_delete ON organizations_organization FOR DELETE
    USING (id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner}')));

-- memberships: visible across the user's organizations ("my orgs, my role");
-- written by admins of the current org; anyone may delete their own (leave).
ALTER TABLE organizations_membership ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations_membership FORCE ROW LEVEL SECURITY;
CREATE POLICY membership_select ON organizations_membership FOR SELECT
    USING (organization_id = ANY ((SELECT app.user_org_ids())::uuid[]));
CREATE POLICY membership_insert ON organizations_membership FOR INSERT
    WITH CHECK (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')));
CREATE POLICY membership_update ON organizations_membership FOR UPDATE
    USING (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
CREATE POLICY membership_delete ON organizations_membership FOR DELETE
    USING (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')));
CREATE POLICY membership_leave ON organizations_membership FOR DELETE
    USING (organization_id = (SELECT app.current_org_id()) AND user_id = (SELECT app.current_user_id()));

-- invitations: owners and admins of the current org only. Accepting one is
-- done in the service context (the invitee is not a member yet).
ALTER TABLE organizations_invitation ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations_invitation FORCE ROW LEVEL SECURITY;
CREATE POLICY invitation_all ON organizations_invitation FOR ALL
    USING (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')))
    WITH CHECK (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')));
"""

REVERSE = r"""
DROP POLICY IF EXISTS invitation_all ON organizations_invitation;
ALTER TABLE organizations_invitation NO FORCE ROW LEVEL SECURITY;
ALTER TABLE organizations_invitation DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS membership_leave ON organizations_membership;
DROP POLICY IF EXISTS membership_delete ON organizations_membership;
DROP POLICY IF EXISTS membership_update ON organizations_membership;
DROP POLICY IF EXISTS membership_insert ON organizations_membership;
DROP POLICY IF EXISTS membership_select ON organizations_membership;
ALTER TABLE organizations_membership NO FORCE ROW LEVEL SECURITY;
ALTER TABLE organizations_membership DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS org_delete ON organizations_organization;
DROP POLICY IF EXISTS org_update ON organizations_organization;
DROP POLICY IF EXISTS org_select ON organizations_organization;
ALTER TABLE organizations_organization NO FORCE ROW LEVEL SECURITY;
ALTER TABLE organizations_organization DISABLE ROW LEVEL SECURITY;
DROP SCHEMA app CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
