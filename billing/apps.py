from typing import Any

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from organizations import hooks
        from organizations.api.base import AFTER_AUTHORIZE

        # Runs after organizations' grant_runtime_privileges (billing comes later in
        # INSTALLED_APPS, and post_migrate is sent app by app in that order).
        post_migrate.connect(
            revoke_catalog_writes, sender=self, dispatch_uid="billing_revoke_catalog_writes"
        )
        AFTER_AUTHORIZE.append(count_api_call)
        # Tenancy announces, billing answers (organizations.hooks; inside the caller's
        # transaction, so a refusal rolls the write back).
        hooks.register(hooks.ORGANIZATION_CREATED, start_free_subscription)
        hooks.register(hooks.MEMBERS_ADDING, check_members_quota)


def revoke_catalog_writes(using: str = "default", **kwargs: Any) -> None:
    """The plan catalog is global and readable by all; only the service role (staff in
    the admin) may change it. The inbox is the service role's alone. Usage counters
    are read by members but written by the app role only through
    ``app.billing_usage_add`` (``migrations/0004``): no INSERT/UPDATE/DELETE."""
    from django.conf import settings
    from django.db import connections
    from psycopg import sql

    app_role = sql.Identifier(settings.DB_APP_ROLE)
    with connections[using].cursor() as cursor:
        cursor.execute(
            sql.SQL("REVOKE INSERT, UPDATE, DELETE ON billing_plan FROM {}").format(app_role)
        )
        cursor.execute(sql.SQL("REVOKE ALL ON billing_stripeevent FROM {}").format(app_role))
        # SECURITY: a member's request must not reset or raise its own usage in SQL.
        cursor.execute(
            sql.SQL("REVOKE INSERT, UPDATE, DELETE ON billing_usagecounter FROM {}").format(
                app_role
            )
        )


def start_free_subscription(*, organization: Any, actor: Any) -> None:
    """Every organization starts with its (free) subscription row."""
    from billing.services import subscription_create_free

    subscription_create_free(organization_id=organization.id)


def check_members_quota(*, organization_id: Any, adding: int) -> None:
    """Members + open invitations count against the plan's ``members`` limit (402)."""
    from billing.quotas import quota_check_count

    quota_check_count(organization_id=organization_id, metric="members", adding=adding)


def count_api_call(view: Any, request: Any) -> None:
    """Every authorized request on an org route is an API call, except billing's own
    (an organization over its API-call limit can still see its bill and upgrade)."""
    if getattr(view, "billing_exempt", False):
        return
    from billing.metering import api_call

    api_call(view.organization_id)
