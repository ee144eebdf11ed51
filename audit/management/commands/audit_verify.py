from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction

from audit.services import audit_verify
from organizations.tenancy import OWNER_DB_ALIAS, service_context


class Command(BaseCommand):
    help = "Recompute every organization's audit hash chain; exit non-zero if any link is broken."

    def handle(self, **options: Any) -> None:
        if settings.DATABASE_CITUS:
            # NOTE: on a Citus cluster the service role cannot read distributed tables:
            # Citus opens its worker connections as the current role, and the service role
            # is NOLOGIN (reached only by SET ROLE). The owner (BYPASSRLS, a login on
            # every node) reads the trail there; docs/scaling.md.
            with transaction.atomic(using=OWNER_DB_ALIAS):
                with connections[OWNER_DB_ALIAS].cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = 0")
                checked, problems = audit_verify(using=OWNER_DB_ALIAS)
        else:
            with service_context(reason="audit_verify command"):
                # An operator command reads the whole trail: the runtime role's statement
                # timeout is for requests, not for this.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = 0")
                checked, problems = audit_verify()
        for p in problems:
            self.stderr.write(f"org {p.organization_id or 'platform'} #{p.sequence}: {p.problem}")
        if problems:
            raise CommandError(f"{len(problems)} problem(s) in {checked} audit events")
        self.stdout.write(self.style.SUCCESS(f"Audit chains intact ({checked} events checked)."))
