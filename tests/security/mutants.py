# ruff: noqa: E501, S603, S607, UP031
"""The mutants of docs/security-testing.md: apply one at a time, run tests/security/, restore.

Not a test module (pytest does not collect it). Run from the repository root with a
clean work tree: ``.venv/bin/python tests/security/mutants.py [M1 M4 ...]``; it prints
one JSON line per mutant (killed or not, and the failing tests) and ``git checkout``s
every file it edited, also when interrupted.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORG0002 = "organizations/migrations/0002_rls.py"
PRJ0002 = "projects/migrations/0002_rls.py"
KEY0002 = "integrations/migrations/0002_rls.py"
RT0001 = "realtime/migrations/0001_feed_functions.py"
CUR_ORG_OLD = """    SELECT m.organization_id
      FROM organizations_membership m
     WHERE m.organization_id = NULLIF(current_setting('app.org_id', true), '')::uuid
       AND m.user_id = NULLIF(current_setting('app.user_id', true), '')::uuid
$$;

CREATE FUNCTION app.current_role()"""
CUR_ORG_NEW = """    SELECT NULLIF(current_setting('app.org_id', true), '')::uuid
$$;

CREATE FUNCTION app.current_role()"""
ANY = "organization_id = ANY ((SELECT app.user_org_ids())::uuid[])"

MUTANTS = {
    "M1 current_org_id trusts the org claim": [(ORG0002, CUR_ORG_OLD, CUR_ORG_NEW)],
    "M2 a tenant SELECT policy admits any of my orgs (projects_conversation)": [
        (
            PRJ0002,
            "for _table in REFERENCES:\n",
            'POLICIES["projects_conversation"] = (f"'
            + ANY
            + ' AND {VISIBLE}", *[f"{IN_ORG} AND {WRITABLE}"] * 3)\nfor _table in REFERENCES:\n',
        )
    ],
    "M3a membership UPDATE WITH CHECK admits any of my orgs": [
        (
            ORG0002,
            "    WITH CHECK (organization_id = (SELECT app.current_org_id()));\nCREATE POLICY membership_delete",
            "    WITH CHECK (" + ANY + ");\nCREATE POLICY membership_delete",
        )
    ],
    "M3b projects_project UPDATE WITH CHECK admits any of my orgs": [
        (
            PRJ0002,
            '''                f"CREATE POLICY {short}_update ON {table} FOR UPDATE USING ({update}) WITH CHECK ({update});"''',
            '''                f"CREATE POLICY {short}_update ON {table} FOR UPDATE USING ({update}) WITH CHECK ({update.replace('organization_id = (SELECT app.current_org_id())', '%s') if table == 'projects_project' else update});"'''
            % ANY,
        )
    ],
    "M4 invitation policy loses its owner/admin check": [
        (
            ORG0002,
            """CREATE POLICY invitation_all ON organizations_invitation FOR ALL
    USING (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')))
    WITH CHECK (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')));""",
            """CREATE POLICY invitation_all ON organizations_invitation FOR ALL
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));""",
        )
    ],
    "M6 definers without pg_temp (organizations 0004 not applied)": [
        (
            "organizations/migrations/0005_pin_function_search_paths.py",
            "public, pg_temp;",
            "public;",
        )
    ],
    "M7 app.audit_hash without a search_path": [
        (
            "audit/migrations/0004_pin_search_paths.py",
            "ALTER FUNCTION app.audit_hash(audit_auditevent) SET search_path = pg_catalog, pg_temp;\n",
            "\n",
        )
    ],
    "M8 the duplicate snapshot-entry index comes back": [
        (
            "projects/migrations/0008_pin_search_paths_drop_duplicate_index.py",
            '        migrations.RemoveIndex(model_name="snapshotentry", name="snapshotentry_snapshot_idx"),\n',
            "",
        ),
        (
            "projects/models.py",
            "        # NOTE: no (organization, snapshot) index here",
            '        indexes = [models.Index(fields=["organization", "snapshot"], name="snapshotentry_snapshot_idx")]\n        # NOTE: no (organization, snapshot) index here',
        ),
    ],
    "M9 FileRevision loses append_only (grants follow the model)": [
        (
            "projects/models.py",
            '    """One immutable version of a file: numbered 1, 2, 3... per file."""\n\n    append_only = True\n',
            '    """One immutable version of a file: numbered 1, 2, 3... per file."""\n\n',
        )
    ],
    "M10 project members' writes lose the org owner/admin check": [
        (
            PRJ0002,
            '"projects_projectmember": (f"{IN_ORG} AND {VISIBLE}", *[f"{IN_ORG} AND {ORG_ADMIN}"] * 3),',
            '"projects_projectmember": (f"{IN_ORG} AND {VISIBLE}", *[f"{IN_ORG} AND {VISIBLE}"] * 3),',
        )
    ],
    "M11 has_role without search_path (organizations 0004 leaves invokers alone)": [
        (
            "organizations/migrations/0005_pin_function_search_paths.py",
            'INVOKERS = ["app.current_user_id()", "app.has_role(text[])"]',
            "INVOKERS = []",
        )
    ],
    "M12 audit SELECT policy loses its owner/admin check": [
        (
            "audit/migrations/0002_rls.py",
            "CREATE POLICY audit_select ON audit_auditevent FOR SELECT\n    USING (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')));",
            "CREATE POLICY audit_select ON audit_auditevent FOR SELECT\n    USING (organization_id = (SELECT app.current_org_id()));",
        )
    ],
    "M13 a tenant policy uses user_org_ids on invitations (rls_check lint)": [
        (
            ORG0002,
            "    USING (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')))\n    WITH CHECK (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')));\n\"\"\"",
            "    USING ("
            + ANY
            + " AND (SELECT app.has_role('{owner,admin}')))\n    WITH CHECK (organization_id = (SELECT app.current_org_id()) AND (SELECT app.has_role('{owner,admin}')));\n\"\"\"",
        )
    ],
    "M5a invitations list view's scope_map loosened to member.list": [
        (
            "organizations/api/views.py",
            'scope_map = {"GET": "invitation.list", "POST": "invitation.create"}',
            'scope_map = {"GET": "member.list", "POST": "invitation.create"}',
        )
    ],
    "M5b permission matrix: invitation.list opened to viewers": [
        (
            "organizations/permissions.py",
            '"invitation.list": Rule(\n        Role.ADMIN,',
            '"invitation.list": Rule(\n        Role.VIEWER,',
        )
    ],
    "M14 the live page's text rendered with |safe": [
        (
            "templates/sites/blocks.html",
            "{{ block.text|linebreaksbr }}",
            "{{ block.text|safe|linebreaksbr }}",
        )
    ],
    "M15 usage-counter INSERT policy WITH CHECK (true), its grant back": [
        (
            "billing/migrations/0004_usage_counters_through_a_definer.py",
            "DROP POLICY IF EXISTS usagecounter_insert ON billing_usagecounter;\n",
            "ALTER POLICY usagecounter_insert ON billing_usagecounter WITH CHECK (true);\n",
        ),
        (
            "billing/apps.py",
            "REVOKE INSERT, UPDATE, DELETE ON billing_usagecounter",
            "REVOKE DELETE ON billing_usagecounter",
        ),
    ],
    "M16 the app role's INSERT/UPDATE grants on usage counters come back": [
        (
            "billing/apps.py",
            "REVOKE INSERT, UPDATE, DELETE ON billing_usagecounter",
            "REVOKE DELETE ON billing_usagecounter",
        ),
    ],
    "M17 column grants: the password hash readable again": [
        ("accounts/models.py", '    secret_columns = ("password",)\n', ""),
    ],
    "M18 app.totp_secret answers for any user": [
        (
            "accounts/migrations/0005_secrets_behind_definers.py",
            "     WHERE d.user_id = p_user AND p_user = app.current_user_id()\n",
            "     WHERE d.user_id = p_user\n",
        )
    ],
    # --- issue 17 §1 and §6: API keys are machines, not people -------------------------
    "M19 the matrix lets keys create keys": [
        (
            "organizations/permissions.py",
            'description="Create an API key (its role at most yours; shown once)",\n        principals=PEOPLE,',
            'description="Create an API key (its role at most yours; shown once)",\n        principals=PEOPLE_AND_KEYS,',
        )
    ],
    "M20 the base view checks the principal kind as if every caller were a person": [
        (
            "organizations/api/base.py",
            "        if not allows_principal(kind, action):",
            "        if not allows_principal(Principal.PERSON, action):",
        )
    ],
    "M21 a key above its creator's role (the service's rank check gone)": [
        (
            "integrations/services.py",
            "    if RANK.get(role, 99) > RANK.get(actor_role, 0):",
            "    if False:",
        )
    ],
    "M22 an API key ignores require_mfa": [
        (
            "organizations/api/base.py",
            '        if org.require_mfa and not getattr(request.user, "mfa_enabled", False):',
            '        if org.require_mfa and principal_enter is None and not getattr(request.user, "mfa_enabled", False):',
        )
    ],
    "M23 enter_org_with_key loses its SQL expiry check": [
        (
            KEY0002,
            "     WHERE k.id = key_id AND k.revoked_at IS NULL\n       AND coalesce(k.expires_at, 'infinity') > now();",
            "     WHERE k.id = key_id AND k.revoked_at IS NULL;",
        )
    ],
    "M24 enter_org_with_key trusts the caller's clock for expiry": [
        (
            KEY0002,
            "     WHERE k.id = key_id AND k.revoked_at IS NULL\n       AND coalesce(k.expires_at, 'infinity') > now();",
            "     WHERE k.id = key_id AND k.revoked_at IS NULL\n       AND coalesce(k.expires_at, 'infinity') > used_at;",
        )
    ],
    "M25 enter_org_with_key loses its SQL revocation check": [
        (
            KEY0002,
            "     WHERE k.id = key_id AND k.revoked_at IS NULL\n       AND coalesce",
            "     WHERE k.id = key_id\n       AND coalesce",
        )
    ],
    "M26 the feed sends a private project's events to every member": [
        (
            "realtime/visibility.py",
            "    if event.project_id is None or event.project_private:",
            "    if event.project_id is None:",
        )
    ],
    "M27 the feed ignores an API key's scopes": [
        (
            "realtime/visibility.py",
            "            and (not self.scopes or any(scope_covers(s, action) for s in self.scopes))",
            "            and True",
        )
    ],
    "M28 app.realtime_events reads an organization none of the members belongs to": [
        (
            RT0001,
            "     WHERE e.organization_id = org AND e.sequence > after\n       AND e.action NOT LIKE 'system.%'\n       AND EXISTS",
            "     WHERE e.organization_id = org AND e.sequence > after\n       AND e.action NOT LIKE 'system.%'\n       AND true OR EXISTS",
        )
    ],
    "M29 the access check forgets revoked sessions": [
        (RT0001, "               AND se.revoked_at IS NULL AND se.expires_at > now()))", "))")
    ],
    "M30 the hub fans an event out to every organization's streams": [
        (
            "realtime/hub.py",
            "        streams = list(self.streams.get(org, ()))",
            "        streams = [s for group in self.streams.values() for s in group]",
        )
    ],
}

# Mutants whose killing tests are known run only those files (the shared machine has two
# cores); every other mutant runs tests/security/ as described in the docstring.
KEYS_TESTS = ["tests/security/test_api_keys_are_machines.py", "tests/integrations/test_api_keys.py"]
TESTS_OF = {
    "M14": ["tests/sites/test_live_site_headers.py"],
    "M19": KEYS_TESTS,
    "M20": KEYS_TESTS,
    "M21": [*KEYS_TESTS, "-k", "not peoples_routes"],
    "M22": [*KEYS_TESTS, "-k", "not peoples_routes"],
    "M23": [*KEYS_TESTS, "-k", "not peoples_routes"],
    "M24": [*KEYS_TESTS, "-k", "not peoples_routes"],
    "M25": [*KEYS_TESTS, "-k", "not peoples_routes"],
    "M26": ["tests/realtime/test_visibility.py"],
    "M27": ["tests/realtime/test_visibility.py"],
    "M28": ["tests/realtime/test_units.py"],
    "M29": ["tests/realtime/test_live.py", "-k", "access_ends"],
    "M30": ["tests/realtime/test_live.py", "-k", "only_what_they_may_read"],
}


def run(name, edits):
    for path, old, new in edits:
        p = ROOT / path
        s = p.read_text()
        assert s.count(old) == 1, (name, path, s.count(old))
        p.write_text(s.replace(old, new))
    args = [
        ".venv/bin/python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-rf",
    ]
    only = TESTS_OF.get(name.split(" ")[0])
    if only:
        args += only
    elif name.startswith("M5"):
        args += ["tests/security/", "-k", "invitations"]
    else:
        args += [
            "tests/security/",
            "--deselect",
            "tests/security/test_route_matrix.py::test_route_answers_each_persona_as_expected",
        ]
    t = time.time()
    try:
        proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=1500)
        out = proc.stdout
        if "passed" not in out and "failed" not in out:
            out += "\nSTDERR " + proc.stderr[-3000:]
    finally:
        subprocess.run(["git", "checkout", "--", *{e[0] for e in edits}], cwd=ROOT, check=True)
    failed = sorted(
        set(re.findall(r"^FAILED (\S+)", out, re.M)) | set(re.findall(r"^ERROR (\S+)", out, re.M))
    )
    summary = out.strip().splitlines()[-1] if out.strip() else "?"
    if "STDERR" in out:
        summary = out[out.index("STDERR") :][-1500:]
    return {
        "mutant": name,
        "killed": bool(failed),
        "failed": failed,
        "summary": summary,
        "seconds": round(time.time() - t),
    }


def main(only: list[str]) -> None:
    for name, edits in MUTANTS.items():
        if only and not any(name.startswith(o + " ") for o in only):
            continue
        print(json.dumps(run(name, edits)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
