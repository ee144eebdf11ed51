"""Row Level Security, tenant references and the quota functions of the billing app.

* ``Subscription``, ``SubscriptionEvent`` and ``Invoice`` are mirrored from
  Stripe: owners, admins and billing members read them; the app role has **no
  write policy** — only the service role (webhooks, ``billing_sync``, the
  admin), which bypasses RLS, writes them.
* ``UsageCounter``: every member reads; any member's request may insert or
  bump its own organization's counters (the quota statement itself enforces the
  limit); nobody deletes.
* ``QuotaOverride``: every member reads (limits are shown to them); staff write.
* ``CostEstimate``: any member inserts as its author; a member reads their own
  rows, owners and admins read all (two permissive policies, no ``OR``);
  insert-only (``append_only``: no UPDATE/DELETE grant).
* ``Plan`` and ``StripeEvent`` are global (``rls_check``'s ``GLOBAL_TABLES``):
  the inbox has RLS forced and no policy at all (service role only); the app
  role's INSERT/UPDATE/DELETE on the plan catalog are revoked after every
  migrate (``billing.apps``).

Two SECURITY DEFINER functions serve the quota checks of members whose RLS
view is narrower than the organization (a member cannot read the subscription,
nor see private projects): both answer only for ``app.current_org_id()``.
"""

from django.db import migrations

ORG = "organizations_organization"
TABLES = [
    "billing_subscription",
    "billing_subscriptionevent",
    "billing_invoice",
    "billing_usagecounter",
    "billing_quotaoverride",
    "billing_costestimate",
]

IN_ORG = "organization_id = (SELECT app.current_org_id())"
BILLING_READERS = "(SELECT app.has_role('{owner,admin,billing}'))"
ADMINS = "(SELECT app.has_role('{owner,admin}'))"
AUTHOR = "author_id = (SELECT app.current_user_id())"

# (table, policy suffix, command, expression)
POLICIES = [
    ("billing_subscription", "select", "SELECT", f"{IN_ORG} AND {BILLING_READERS}"),
    ("billing_subscriptionevent", "select", "SELECT", f"{IN_ORG} AND {BILLING_READERS}"),
    ("billing_invoice", "select", "SELECT", f"{IN_ORG} AND {BILLING_READERS}"),
    ("billing_usagecounter", "select", "SELECT", IN_ORG),
    ("billing_usagecounter", "insert", "INSERT", IN_ORG),
    ("billing_usagecounter", "update", "UPDATE", IN_ORG),
    ("billing_quotaoverride", "select", "SELECT", IN_ORG),
    ("billing_costestimate", "select_own", "SELECT", f"{IN_ORG} AND {AUTHOR}"),
    ("billing_costestimate", "select_admin", "SELECT", f"{IN_ORG} AND {ADMINS}"),
    ("billing_costestimate", "insert", "INSERT", f"{IN_ORG} AND {AUTHOR}"),
]

FUNCTIONS = r"""
-- The subscription of the current organization, created (free, active) if missing;
-- locked FOR UPDATE when p_lock: count quotas are checked under this lock, and then
-- `usage` is what the organization holds of p_metric, counted after the lock was
-- granted (NULL for a metric counted elsewhere). Also answers the staff override
-- for p_metric, if one is in force.
CREATE FUNCTION app.billing_quota_state(p_org uuid, p_metric text, p_lock boolean)
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

-- What the organization holds now of a counted metric, whatever the caller can see
-- (a member does not see private projects, but they count). NULL for a metric
-- counted elsewhere (the Python counter registry).
CREATE FUNCTION app.billing_count(p_org uuid, p_metric text) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_org IS NULL OR p_org IS DISTINCT FROM app.current_org_id() THEN
        RETURN NULL;
    END IF;
    IF p_metric = 'projects' THEN
        RETURN (SELECT count(*) FROM projects_project WHERE organization_id = p_org);
    ELSIF p_metric = 'storage_bytes' THEN
        RETURN (SELECT coalesce(sum(size), 0) FROM projects_asset WHERE organization_id = p_org);
    ELSIF p_metric = 'members' THEN
        RETURN (SELECT count(*) FROM organizations_membership WHERE organization_id = p_org)
             + (SELECT count(*) FROM organizations_invitation
                 WHERE organization_id = p_org AND accepted_at IS NULL
                   AND revoked_at IS NULL AND expires_at > now());
    END IF;
    RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION app.billing_quota_state(uuid, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.billing_count(uuid, text) FROM PUBLIC;
"""


def _forward() -> str:
    sql = [FUNCTIONS]
    for table in TABLES:
        short = table.removeprefix("billing_")
        sql.append(
            f"ALTER TABLE {table} ADD CONSTRAINT {short}_org_fk FOREIGN KEY (organization_id)"
            f" REFERENCES {ORG} (id) ON DELETE CASCADE;"
        )
        sql.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;")
    sql.append(
        "ALTER TABLE billing_costestimate ADD CONSTRAINT costestimate_author_fk"
        " FOREIGN KEY (author_id) REFERENCES accounts_user (id) ON DELETE SET NULL;"
    )
    for table, suffix, command, expr in POLICIES:
        short = table.removeprefix("billing_")
        clause = {
            "SELECT": f"USING ({expr})",
            "INSERT": f"WITH CHECK ({expr})",
            "UPDATE": f"USING ({expr}) WITH CHECK ({expr})",
        }[command]
        sql.append(f"CREATE POLICY {short}_{suffix} ON {table} FOR {command} {clause};")
    # The inbox: service role only (RLS forced, no policy for anyone else).
    sql.append("ALTER TABLE billing_stripeevent ENABLE ROW LEVEL SECURITY;")
    sql.append("ALTER TABLE billing_stripeevent FORCE ROW LEVEL SECURITY;")
    return "\n".join(sql)


def _reverse() -> str:
    sql = ["ALTER TABLE billing_stripeevent DISABLE ROW LEVEL SECURITY;"]
    for table, suffix, _, _ in POLICIES:
        sql.append(f"DROP POLICY IF EXISTS {table.removeprefix('billing_')}_{suffix} ON {table};")
    sql.append("ALTER TABLE billing_costestimate DROP CONSTRAINT IF EXISTS costestimate_author_fk;")
    for table in TABLES:
        short = table.removeprefix("billing_")
        sql.append(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;")
        sql.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_org_fk;")
    sql.append("DROP FUNCTION IF EXISTS app.billing_count(uuid, text);")
    sql.append("DROP FUNCTION IF EXISTS app.billing_quota_state(uuid, text, boolean);")
    return "\n".join(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("organizations", "0002_rls"),
        ("projects", "0002_rls"),
    ]

    operations = [migrations.RunSQL(_forward(), _reverse())]
