"""The class of bug behind finding 6: a write that runs in the service context skips
the API base view, and with it the suspension check.

Every call of ``service_context`` in the code is listed here with a verdict:
``GUARDED`` (the function calls ``ensure_writable`` or refuses a suspended
organization through ``tenant_context``) or the reason it may write regardless.
A new call site fails this test until someone decides which it is — that is
the point: background work, webhooks and tasks added later get the question
asked, not forgotten.
"""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

GUARDED = "guarded"

SERVICE_CONTEXT_CALLS: dict[str, str] = {
    # Staff and operators act on suspended organizations on purpose.
    "organizations/tenancy.py:StaffAdminServiceContextMiddleware.__call__": "staff in the admin",
    "organizations/operations/archive.py:organization_export": "operator command (read)",
    "organizations/operations/archive.py:organization_import": "operator command",
    "organizations/operations/archive.py:organization_erase": "operator command",
    "organizations/operations/scale_seed.py:scale_seed": "operator command (new data)",
    "organizations/operations/validate.py:database_validate": "operator command (read)",
    "organizations/management/commands/seed.py:Command.handle": "operator command (demo data)",
    "audit/management/commands/audit_verify.py:Command.handle": "operator command (read)",
    "bench/inproc.py:mint_tokens": "benchmark harness",
    "bench/inproc.py:check_plans": "benchmark harness (read)",
    "bench/inproc.py:prepare": "benchmark harness",
    "bench/realtime.py:cmd_prepare": "benchmark harness (people, sessions, a private project)",
    # Tenant writes that no base view guards.
    "organizations/services.py:invitation_accept": GUARDED,
    "organizations/tasks.py:send_invitation_email": GUARDED,
    # Reads, or writes that cannot meet a suspended organization.
    "organizations/services.py:organization_create": "the organization is new",
    "organizations/services.py:organization_delete": "reads file names; the deletion is the "
    "owner's, through the base view (a suspended organization refuses it there)",
    "projects/jobs/runner.py:find_starter": "read: who started the job",
    "projects/jobs/runner.py:_finish": "records that a refused job failed",
    "accounts/pages.py:_invitation": "read: the invitation behind an emailed link",
    "accounts/services.py:login_failed_record": "writes only the audit trail (a refused sign-in)",
    "organizations/services.py:invitations_for_invitee": "read: invitations to my address",
    "organizations/services.py:invitation_decline": "closes an invitation (grants nothing)",
    "bench/apikey_vs_jwt.py:main": "benchmark harness",
    "bench/ab.py:_child": "benchmark harness (read: picks the targets)",
    "bench/billing_quota.py:_setup": "benchmark harness",
    "bench/billing_quota.py:bench_w3": "benchmark harness",
    "bench/sites_public.py:_member_token": "benchmark harness",
    # Billing mirrors Stripe: a suspended organization's subscription still changes there.
    "billing/sync.py:billing_sync": "mirror of Stripe's state (operator command)",
    "billing/tasks.py:usage_report_to_stripe": "reports usage already recorded to Stripe",
    "billing/webhooks.py:stripe_webhook_handle": "mirror of Stripe's state (signed webhook)",
    "integrations/management/commands/rotate_integration_keys.py:rotate_all": "operator command",
    "integrations/management/commands/secret_set.py:Command.handle": "operator command",
    "integrations/webhooks.py:deliver_due": "sends events already recorded; bookkeeping only",
    "sites/services/deployments.py:run_build": "read: who deployed; the build runs in "
    "tenant_context, which refuses a suspended organization or a deactivated deployer",
    "sites/services/deployments.py:_finish_failed": "records that a refused build failed",
    "integrations/sync.py:run_job": "read: who started the job; the job runs in "
    "tenant_context, which refuses a suspended organization or a deactivated starter",
    "integrations/sync.py:_fail_elevated": "records that a refused job failed",
    "projects/api/ai_reply_views.py:ConversationReplyView._record_failure": "records that a "
    "streamed reply failed, once its caller lost the organization",
    "sites/services/pages.py:publish_due": "skips suspended organizations in its claim query "
    "(tests/sites/test_scheduling.py); expiry still takes pages down",
    "sites/services/deployments.py:deploy_pending": "skips suspended organizations in its "
    "claim query (tests/sites/test_live_follows_publishing.py)",
    "sites/services/deployments.py:_as_deployer": "the scheduler's deployment builds as the "
    "system: ensure_writable refuses a suspended organization",
}


class _CallSites(ast.NodeVisitor):
    def __init__(self, relative: Path, source: str, found: dict[str, str]) -> None:
        self.relative, self.source, self.found = relative, source, found
        self.stack: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.stack.append(node)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name == "service_context":
            where = ".".join(n.name for n in self.stack)
            scope = self.stack[-1] if self.stack else node
            self.found[f"{self.relative}:{where}"] = (
                ast.get_source_segment(self.source, scope) or ""
            )
        self.generic_visit(node)


def service_context_calls() -> dict[str, str]:
    """``path:qualified function`` -> that function's source, for every call site."""
    root = Path(settings.BASE_DIR)
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] in (".venv", "tests", ".data") or "migrations" in relative.parts:
            continue
        source = path.read_text()
        _CallSites(relative, source, found).visit(ast.parse(source))
    return found


def test_every_service_context_call_is_classified():
    calls = service_context_calls()
    unclassified = sorted(calls.keys() - SERVICE_CONTEXT_CALLS.keys())
    assert not unclassified, (
        "service_context is used here without a verdict in SERVICE_CONTEXT_CALLS; if it "
        "writes for a tenant, call organizations.tenancy.ensure_writable first: "
        f"{unclassified}"
    )


def test_every_guarded_call_site_calls_the_check():
    calls = service_context_calls()
    unguarded = [
        site
        for site, verdict in SERVICE_CONTEXT_CALLS.items()
        if verdict == GUARDED and "ensure_writable(" not in calls.get(site, "")
    ]
    assert unguarded == []
