"""An organization may require two-factor authentication of its members.

``app.enter_org`` answers the flag with the membership, so the check costs no
extra query per request. Its return type changes, hence DROP and CREATE (the
privileges are granted again by ``grant_runtime_privileges`` after migrate).
SECURITY: the definer's search_path ends with ``pg_temp`` (a temporary table
cannot shadow ``organizations_membership``).
"""

from django.db import migrations, models

FORWARD = r"""
DROP FUNCTION app.enter_org(uuid, text);
CREATE FUNCTION app.enter_org(user_id uuid, org_slug text)
RETURNS TABLE (organization_id uuid, role text, suspended boolean, require_mfa boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    found_org uuid;
    found_role text;
    found_suspended boolean;
    found_require_mfa boolean;
BEGIN
    PERFORM set_config('app.user_id', coalesce(user_id::text, ''), true);
    SELECT o.id, m.role, o.suspended_at IS NOT NULL, o.require_mfa
      INTO found_org, found_role, found_suspended, found_require_mfa
      FROM public.organizations_organization o
      JOIN public.organizations_membership m ON m.organization_id = o.id
     WHERE o.slug = org_slug AND m.user_id = enter_org.user_id;
    PERFORM set_config('app.org_id', coalesce(found_org::text, ''), true);
    IF found_org IS NOT NULL THEN
        RETURN QUERY SELECT found_org, found_role, found_suspended, found_require_mfa;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION app.enter_org(uuid, text) FROM PUBLIC;
"""

REVERSE = r"""
DROP FUNCTION app.enter_org(uuid, text);
CREATE FUNCTION app.enter_org(user_id uuid, org_slug text)
RETURNS TABLE (organization_id uuid, role text, suspended boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    found_org uuid;
    found_role text;
    found_suspended boolean;
BEGIN
    PERFORM set_config('app.user_id', coalesce(user_id::text, ''), true);
    SELECT o.id, m.role, o.suspended_at IS NOT NULL
      INTO found_org, found_role, found_suspended
      FROM public.organizations_organization o
      JOIN public.organizations_membership m ON m.organization_id = o.id
     WHERE o.slug = org_slug AND m.user_id = enter_org.user_id;
    PERFORM set_config('app.org_id', coalesce(found_org::text, ''), true);
    IF found_org IS NOT NULL THEN
        RETURN QUERY SELECT found_org, found_role, found_suspended;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION app.enter_org(uuid, text) FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [("organizations", "0003_indexes_for_hot_paths")]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="require_mfa",
            field=models.BooleanField(
                default=False,
                db_default=False,
                help_text=(
                    "Members without two-factor authentication are refused (403 mfa_required)."
                ),
            ),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
