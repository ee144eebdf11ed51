"""The Django side of the bench, run as its own process against one bench database.

``python bench/inproc.py prepare OUT.json`` (with ``DB_NAME`` set, or ``DATABASE_URL``):
mints JWTs for one member of every bench organization (``Session`` rows created
in a service context, ``accounts.tokens.token_pair``), picks the objects the
workloads request, counts the queries of one request per workload through
Django's test client (``CaptureQueriesContext``) and checks the plans of the
hot queries (P) as the app role with a member's claims.

``python bench/inproc.py seed OUT.json --orgs N --rows-per-org M``: runs
``manage.py seed --scale`` in-process (timed without interpreter start-up) and
reports the rows it added per table (W6).

``python bench/inproc.py profile OUT.txt --path PATH --token T``: profiles
repeated requests through the test client with pyinstrument.

Settings come from the environment like any Django process: the orchestrator
passes the same ``SECRET_KEY``/``JWT_SIGNING_KEY`` as the gunicorn servers, so
tokens minted here are valid there.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Session, User  # noqa: E402
from accounts.tokens import token_pair  # noqa: E402
from organizations.tenancy import enter_org, service_context  # noqa: E402

BENCH_AGENT = "bench/run.py"
BENCH_SLUG_PREFIX = "bench-"
# Tables the hot queries read; any of them above this many rows is "big" for P.
BIG_TABLE_ROWS = 10_000


# --- targets and tokens ---------------------------------------------------------------


def _fetch(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def pick_targets(max_orgs: int) -> list[dict[str, Any]]:
    """One active ``member`` per scale organization, two org-visible live projects of it,
    and an organization the member does not belong to (for the cross-tenant probe)."""
    rows = _fetch(
        """
        SELECT DISTINCT ON (o.slug) o.slug, o.id::text, m.user_id::text
          FROM organizations_organization o
          JOIN organizations_membership m ON m.organization_id = o.id AND m.role = 'member'
          JOIN accounts_user u ON u.id = m.user_id AND u.is_active
         WHERE o.suspended_at IS NULL AND o.slug LIKE 'scale-%%'
         ORDER BY o.slug, m.created_at, m.id
         LIMIT %s
        """,
        [max_orgs],
    )
    slugs = [slug for slug, _, _ in rows]
    projects: dict[str, list[str]] = {}
    for org_id, slug in _fetch(
        """
        SELECT organization_id::text, slug FROM (
            SELECT organization_id, slug, row_number() OVER (
                       PARTITION BY organization_id ORDER BY created_at DESC, id DESC) AS n
              FROM projects_project
             WHERE organization_id = ANY(%s::uuid[]) AND visibility = 'org'
               AND archived_at IS NULL AND slug NOT LIKE 'bench-%%') p
         WHERE n <= 2
        """,
        [[org_id for _, org_id, _ in rows]],
    ):
        projects.setdefault(org_id, []).append(slug)
    memberships: dict[str, set[str]] = {}
    for user_id, slug in _fetch(
        """
        SELECT m.user_id::text, o.slug FROM organizations_membership m
          JOIN organizations_organization o ON o.id = m.organization_id
         WHERE m.user_id = ANY(%s::uuid[])
        """,
        [[user_id for _, _, user_id in rows]],
    ):
        memberships.setdefault(user_id, set()).add(slug)
    targets = []
    for i, (slug, org_id, user_id) in enumerate(rows):
        foreign = next(
            (
                slugs[(i + k) % len(slugs)]
                for k in range(1, len(slugs))
                if slugs[(i + k) % len(slugs)] not in memberships.get(user_id, set())
            ),
            None,
        )
        targets.append(
            {
                "org": slug,
                "org_id": org_id,
                "user_id": user_id,
                "projects": projects.get(org_id, []),
                "foreign_org": foreign,
                "foreign_projects": [],
            }
        )
    by_slug = {t["org"]: t for t in targets}
    for t in targets:
        if t["foreign_org"]:
            t["foreign_projects"] = by_slug[t["foreign_org"]]["projects"]
    return targets


def mint_tokens(targets: list[dict[str, Any]]) -> None:
    """A fresh session and access token per target user; earlier bench sessions and the
    projects earlier W3 runs created are removed first, so the data stays the same size."""
    from projects.models import Project

    with service_context(reason="bench: mint tokens, remove earlier bench objects"):
        Session.objects.filter(user_agent=BENCH_AGENT).delete()
        Project.objects.filter(slug__startswith=BENCH_SLUG_PREFIX).delete()
        expires = timezone.now() + timedelta(days=1)
        sessions = Session.objects.bulk_create(
            [
                Session(user_id=t["user_id"], user_agent=BENCH_AGENT, expires_at=expires)
                for t in targets
            ]
        )
        users = {str(u.id): u for u in User.objects.filter(id__in=[s.user_id for s in sessions])}
        for t, session in zip(targets, sessions, strict=True):
            session.user = users[str(session.user_id)]
            t["token"] = token_pair(session)["access"]


def _uuid(value: str) -> Any:
    import uuid

    return uuid.UUID(value)


# --- queries per request ---------------------------------------------------------------


def count_queries(targets: list[dict[str, Any]]) -> dict[str, Any]:
    """Queries of one request per workload (after one warm-up request), with their SQL."""
    client = Client()
    t = next(x for x in targets if x["projects"] and x["foreign_org"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {t['token']}"}
    base = f"/api/v1/orgs/{t['org']}"
    cases = {
        "W1": ("get", f"{base}/projects/?page_size=50", None),
        "W1 page_size=10": ("get", f"{base}/projects/?page_size=10", None),
        "W2": ("get", f"{base}/projects/{t['projects'][0]}/", None),
        "W3": ("post", f"{base}/projects/", {"name": "bench query count"}),
        "W4": ("get", f"/api/v1/orgs/{t['foreign_org']}/projects/", None),
        "members": ("get", f"{base}/members/?page_size=50", None),
    }
    out: dict[str, Any] = {}
    for name, (method, path, body) in cases.items():
        call = getattr(client, method)
        kwargs: dict[str, Any] = dict(auth)
        if body is not None:
            slug = f"{BENCH_SLUG_PREFIX}q-{int(time.time() * 1000)}"
            kwargs |= {
                "data": json.dumps(body | {"slug": slug}),
                "content_type": "application/json",
            }
        if method == "get":
            call(path, **kwargs)  # warm-up: caches, lazy imports
        with CaptureQueriesContext(connection) as captured:
            response = call(path, **kwargs)
        out[name] = {
            "path": path,
            "status": response.status_code,
            "queries": len(captured.captured_queries),
            "sql": [q["sql"] for q in captured.captured_queries],
        }
    return out


# --- plans (P) ---------------------------------------------------------------


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [node]
    for child in node.get("Plans", []):
        nodes.extend(_walk(child))
    return nodes


def check_plans(targets: list[dict[str, Any]], queries: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN ANALYZE the hot queries as the app role with a member's claims: each must reach
    its table through an index condition on ``organization_id``, and no big table may be
    read with a sequential scan."""
    t = next(x for x in targets if x["projects"])
    hot = {
        "projects list": ("W1", "projects_project"),
        "project detail": ("W2", "projects_project"),
        "members list": ("members", "organizations_membership"),
    }
    with service_context(reason="bench: table sizes for the plan check"):
        sizes = dict(
            _fetch(
                "SELECT c.relname, c.reltuples::bigint FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            )
        )
    index_table = dict(_fetch("SELECT indexname, tablename FROM pg_indexes"))
    results: dict[str, Any] = {}
    for label, (workload, table) in hot.items():
        statements = [s for s in queries[workload]["sql"] if f'"{table}"' in s]
        if not statements:
            results[label] = {"ok": False, "problems": [f"no query on {table} captured"]}
            continue
        statement = statements[-1]
        with transaction.atomic():
            context = enter_org(_uuid(t["user_id"]), t["org"])
            assert context is not None and context.role == "member"
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement)
                plan = cursor.fetchone()[0]
            transaction.set_rollback(True)
        if isinstance(plan, str):
            plan = json.loads(plan)
        root = plan[0]
        nodes = _walk(root["Plan"])
        problems = []
        for node in nodes:
            relation = node.get("Relation Name")
            if node["Node Type"] == "Seq Scan" and sizes.get(relation, 0) >= BIG_TABLE_ROWS:
                problems.append(f"Seq Scan on {relation} ({sizes[relation]:,} rows)")
        indexed = [
            node
            for node in nodes
            if "organization_id" in node.get("Index Cond", "")
            and index_table.get(node.get("Index Name", "")) == table
        ]
        if not indexed:
            problems.append(f"no index condition on {table}.organization_id")
        results[label] = {
            "ok": not problems,
            "problems": problems,
            "table": table,
            "table_rows": sizes.get(table, 0),
            "index": indexed[0]["Index Name"] if indexed else None,
            "index_cond": indexed[0].get("Index Cond") if indexed else None,
            "execution_ms": root.get("Execution Time"),
            "planning_ms": root.get("Planning Time"),
            "nodes": sorted(
                {
                    n["Node Type"] + (f" {n['Relation Name']}" if "Relation Name" in n else "")
                    for n in nodes
                }
            ),
            "sql": statement,
        }
    return results


# --- commands ---------------------------------------------------------------


def prepare(out: Path, max_orgs: int) -> None:
    started = time.monotonic()
    with service_context(reason="bench: pick the objects the workloads request"):
        targets = pick_targets(max_orgs)
    if not targets:
        raise SystemExit("no scale organizations with a member found in this database")
    mint_tokens(targets)
    queries = count_queries(targets)
    plans = check_plans(targets, queries)
    out.write_text(
        json.dumps(
            {
                "database": connection.settings_dict["NAME"],
                "targets": targets,
                "queries": queries,
                "plans": plans,
                "seconds": round(time.monotonic() - started, 2),
            },
            indent=1,
        )
    )


def table_counts() -> dict[str, int]:
    from organizations.operations.pg import owner_login

    with owner_login().connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}


def seed(out: Path, orgs: int, rows_per_org: int) -> None:
    from django.core.management import call_command

    before = table_counts()
    output = io.StringIO()
    started = time.perf_counter()
    call_command("seed", scale=True, orgs=orgs, rows_per_org=rows_per_org, stdout=output)
    seconds = time.perf_counter() - started
    after = table_counts()
    added = {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0)}
    # The command's per-table lines ("table  rows  seconds"), kept for the report if present.
    per_table = {
        m["table"]: float(m["seconds"])
        for m in re.finditer(
            r"^\s*(?P<table>\w+)\s+[\d,]+ rows\s+(?P<seconds>[\d.]+)s", output.getvalue(), re.M
        )
    }
    out.write_text(
        json.dumps({"seconds": seconds, "rows": added, "table_seconds": per_table}, indent=1)
    )


def profile(out: Path, path: str, token: str, requests: int) -> None:
    from pyinstrument import Profiler

    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for _ in range(20):
        client.get(path, **auth)
    started = time.perf_counter()
    for _ in range(requests):
        client.get(path, **auth)
    unprofiled_ms = (time.perf_counter() - started) / requests * 1000
    profiler = Profiler(interval=0.001)
    profiler.start()
    for _ in range(requests):
        client.get(path, **auth)
    profiler.stop()
    tree = profiler.output_text(time="percent_of_total")
    flat = profiler.output_text(flat=True, time="percent_of_total")
    out.write_text(
        f"# pyinstrument: {requests} requests GET {path} through Django's test client\n"
        f"# (production settings, app role, one organization; {unprofiled_ms:.2f} ms per request"
        " without the profiler). Call tree, then functions by own time.\n"
        + tree
        + "\n# --- by own time -------------------------------------------------\n"
        + "\n".join(flat.splitlines()[:60])
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("out", type=Path)
    p.add_argument("--max-orgs", type=int, default=1000)
    s = sub.add_parser("seed")
    s.add_argument("out", type=Path)
    s.add_argument("--orgs", type=int, required=True)
    s.add_argument("--rows-per-org", type=int, required=True)
    f = sub.add_parser("profile")
    f.add_argument("out", type=Path)
    f.add_argument("--path", required=True)
    f.add_argument("--token", required=True)
    f.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.out, args.max_orgs)
    elif args.command == "seed":
        seed(args.out, args.orgs, args.rows_per_org)
    else:
        profile(args.out, args.path, args.token, args.requests)


if __name__ == "__main__":
    main()
