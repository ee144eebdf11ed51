from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from audit.services import audit_verify
from organizations.tenancy import service_context


class Command(BaseCommand):
    help = "Recompute every organization's audit hash chain; exit non-zero if any link is broken."

    def handle(self, **options: Any) -> None:
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
