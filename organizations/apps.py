from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from organizations import tenancy

        post_migrate.connect(
            tenancy.grant_runtime_privileges, sender=self, dispatch_uid="grant_runtime_privileges"
        )
