import uuid

from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.quotas import register_counter

        # Billing meters what the domain apps report (billing imports no project model).
        # Counted in SQL by ``app.billing_count``: private projects and their assets are
        # hidden from some roles by RLS; these run only where it answers NULL.
        register_counter("projects", count_projects, counted_in_sql=True)
        register_counter("storage_bytes", count_storage_bytes, counted_in_sql=True)


def count_projects(organization_id: uuid.UUID) -> int:
    from projects.models import Project

    return Project.objects.filter(organization_id=organization_id).count()


def count_storage_bytes(organization_id: uuid.UUID) -> int:
    from django.db.models import Sum

    from projects.models import Asset

    total = Asset.objects.filter(organization_id=organization_id).aggregate(n=Sum("size"))["n"]
    return int(total or 0)
