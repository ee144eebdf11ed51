"""Usage counters are written by the app role only through ``app.billing_usage_add``.

Until now any member's request could ``INSERT``/``UPDATE`` its organization's
``billing_usagecounter`` rows in plain SQL (issue 17 §5): reset ``used`` to 0,
or set ``reported``. This migration drops the app role's INSERT and UPDATE
policies (the grants themselves are revoked after every migrate by
``billing.apps.revoke_catalog_writes``: ``grant_runtime_privileges`` grants DML
on every table first) and adds one SECURITY DEFINER function that does the only
writes a request needs, as ``billing.quotas`` did them in SQL before:

``app.billing_usage_add(org, metric, period, amount, delta, limit)``
    upserts the counter of a **metered** metric for a month (``period`` is a first
    of the month) of **the caller's current organization** only
    (``app.current_org_id()``): a new row starts at ``amount`` (never negative),
    an existing one becomes ``greatest(used + delta, 0)``, and with a ``limit``
    only if ``used + delta <= limit`` (one statement under the row lock, as
    before). Answers one row with the new total, its ``used`` NULL when the
    limit refused it, and **no row** for any other organization — the service
    role (tasks, seeding, the admin), which still writes the table directly,
    gets no row too and writes it itself. ``reported`` stays the service role's.

Reading is unchanged (every member reads its organization's counters).
"""

from django.db import migrations

FORWARD = r"""
DROP POLICY IF EXISTS usagecounter_insert ON billing_usagecounter;
DROP POLICY IF EXISTS usagecounter_update ON billing_usagecounter;

CREATE FUNCTION app.billing_usage_add(
    p_org uuid, p_metric text, p_period date, p_amount bigint, p_delta bigint, p_limit bigint
) RETURNS TABLE (used bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_used bigint;
BEGIN
    IF p_org IS NULL OR p_org IS DISTINCT FROM app.current_org_id() THEN
        RETURN;  -- only for the organization the caller is in
    END IF;
    IF p_metric IS NULL OR p_metric NOT IN ('api_calls', 'ai_tokens', 'deployments')
       OR p_period IS NULL OR extract(day FROM p_period) <> 1
       OR p_amount IS NULL OR p_amount < 0 OR p_delta IS NULL THEN
        RAISE EXCEPTION 'billing_usage_add: not a metered metric, month or amount'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_limit IS NOT NULL AND p_amount > p_limit THEN
        RETURN QUERY SELECT NULL::bigint;
        RETURN;
    END IF;
    INSERT INTO billing_usagecounter AS c
           (id, organization_id, metric, period_start, used, reported, created_at, updated_at)
    VALUES (gen_random_uuid(), p_org, p_metric, p_period, p_amount, 0, now(), now())
    ON CONFLICT (organization_id, metric, period_start)
    DO UPDATE SET used = greatest(c.used + p_delta, 0), updated_at = now()
     WHERE p_limit IS NULL OR c.used + p_delta <= p_limit
    RETURNING c.used INTO v_used;
    RETURN QUERY SELECT v_used;
END
$$;
REVOKE ALL ON FUNCTION app.billing_usage_add(uuid, text, date, bigint, bigint, bigint) FROM PUBLIC;
"""

REVERSE = r"""
DROP FUNCTION IF EXISTS app.billing_usage_add(uuid, text, date, bigint, bigint, bigint);
CREATE POLICY usagecounter_insert ON billing_usagecounter FOR INSERT
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
CREATE POLICY usagecounter_update ON billing_usagecounter FOR UPDATE
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_plans")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
