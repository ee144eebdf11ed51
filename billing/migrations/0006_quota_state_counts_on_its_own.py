"""``app.billing_quota_state`` counts in a statement of its own.

The count of a counted metric (``app.billing_count``) was a column of the query that
reads the subscription. On one node that is the same thing; on a Citus cluster that
query is routed to the worker holding the organization's subscription, and the nested
function, which queries distributed tables itself, cannot run there. The count now runs
on its own, after the subscription's lock, exactly as before (issue 20).
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION app.billing_quota_state(p_org uuid, p_metric text, p_lock boolean)
RETURNS TABLE (plan_code text, status text, past_due_since timestamptz,
               has_override boolean, override_limit bigint, usage bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    counted bigint;
BEGIN
    IF p_org IS NULL OR p_org IS DISTINCT FROM app.current_org_id() THEN
        RETURN;  -- only for the organization the caller is in
    END IF;
    IF p_lock THEN
        PERFORM 1 FROM billing_subscription s WHERE s.organization_id = p_org FOR UPDATE;
    ELSE
        PERFORM 1 FROM billing_subscription s WHERE s.organization_id = p_org;
    END IF;
    IF NOT FOUND THEN
        INSERT INTO billing_subscription
            (id, organization_id, plan_code, status, stripe_customer_id,
             stripe_subscription_id, stripe_price_id, cancel_at_period_end, created_at,
             updated_at)
        VALUES (gen_random_uuid(), p_org, 'free', 'active', '', '', '', false, now(), now())
        ON CONFLICT (organization_id) DO NOTHING;
        IF p_lock THEN
            PERFORM 1 FROM billing_subscription s WHERE s.organization_id = p_org FOR UPDATE;
        END IF;
    END IF;
    -- Counted here, after the lock, in a statement of its own: inside the query below
    -- a Citus cluster would push the call to the worker holding the subscription, where
    -- a function that queries distributed tables cannot run (tests/citus/test_routing.py).
    IF p_lock THEN
        counted := app.billing_count(p_org, p_metric);
    END IF;
    RETURN QUERY
        SELECT s.plan_code::text, s.status::text, s.past_due_since,
               o.id IS NOT NULL, o."limit", counted
          FROM billing_subscription s
          LEFT JOIN billing_quotaoverride o
            ON o.organization_id = s.organization_id AND o.metric = p_metric
           AND o.expires_at > now()
         WHERE s.organization_id = p_org;
END
$$;
"""

REVERSE = r"""
CREATE OR REPLACE FUNCTION app.billing_quota_state(p_org uuid, p_metric text, p_lock boolean)
RETURNS TABLE (plan_code text, status text, past_due_since timestamptz,
               has_override boolean, override_limit bigint, usage bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_org IS NULL OR p_org IS DISTINCT FROM app.current_org_id() THEN
        RETURN;  -- only for the organization the caller is in
    END IF;
    IF p_lock THEN
        PERFORM 1 FROM billing_subscription s WHERE s.organization_id = p_org FOR UPDATE;
    ELSE
        PERFORM 1 FROM billing_subscription s WHERE s.organization_id = p_org;
    END IF;
    IF NOT FOUND THEN
        INSERT INTO billing_subscription
            (id, organization_id, plan_code, status, stripe_customer_id,
             stripe_subscription_id, stripe_price_id, cancel_at_period_end, created_at,
             updated_at)
        VALUES (gen_random_uuid(), p_org, 'free', 'active', '', '', '', false, now(), now())
        ON CONFLICT (organization_id) DO NOTHING;
        IF p_lock THEN
            PERFORM 1 FROM billing_subscription s WHERE s.organization_id = p_org FOR UPDATE;
        END IF;
    END IF;
    RETURN QUERY
        SELECT s.plan_code::text, s.status::text, s.past_due_since,
               o.id IS NOT NULL, o."limit",
               CASE WHEN p_lock THEN app.billing_count(p_org, p_metric) END
          FROM billing_subscription s
          LEFT JOIN billing_quotaoverride o
            ON o.organization_id = s.organization_id AND o.metric = p_metric
           AND o.expires_at > now()
         WHERE s.organization_id = p_org;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_plural_names")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
