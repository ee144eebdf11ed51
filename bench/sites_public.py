"""W8: the live site's page (``GET /p/acme/acme-studio/``) and W9: the page list API
(``GET /api/v1/orgs/acme/sites/acme-studio/pages/``), each against its same-run floor.

``make bench`` runs it (step ``extras``, ``--seconds 5``, after ``manage.py
db_setup`` and ``seed``) and reads the JSON it prints; standalone:

    .venv/bin/python bench/sites_public.py [--seconds 10]

Needs the demo data (``manage.py seed``); exits 1 when W8 misses its target. Two
servers, started here, each in its own process and both on the same
single-threaded ``wsgiref`` server (the bench extra's gunicorn is not
required), so the ratio compares the applications only:

* ``app``   - ``config.wsgi`` (DEBUG off), as the app role: middleware, URL
  resolution, ``ATOMIC_REQUESTS``, one ``app.serve_public_page`` call (which
  also counts the view), the Django template;
* ``floor`` - a bare WSGI function doing the same database work with plain
  psycopg (``BEGIN``, the same function call, ``COMMIT``) and writing the page
  with ``str.format``: the least any implementation of this page must do. For
  W9 it verifies the JWT and reads the session and membership the way
  ``bench/floor.py`` does for projects, then selects the same page columns in
  path order and answers them with orjson.

The two are measured in ``--rounds`` interleaved rounds (default 5; ``--seconds``
is spread over them): in each, requests alternate between them at 1 client for
p50, then each runs alone at 2 clients for req/s. The ratios are the median of
the rounds' ratios, with their min-max. Targets (issue 21): W8 p50 <= 1.5 x the
floor, W9 p50 <= 2 x its floor.
"""

from __future__ import annotations

import argparse
import html
import json
import multiprocessing as mp
import os
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench import loadgen  # noqa: E402

PATHS = ["/p/acme/acme-studio/", "/p/acme/acme-studio/about", "/p/acme/acme-studio/contact"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


PAGES_SQL = """
SELECT p.id, p.path, p.title, p.status, p.has_unpublished_changes, p.revision,
       lv.number, sv.number, p.go_live_at, p.expire_at, p.first_published_at,
       p.last_published_at, u.id, u.email, u.name, p.locked_at, p.created_at, p.updated_at
  FROM sites_page p
  JOIN sites_site s ON s.organization_id = p.organization_id AND s.id = p.site_id
  LEFT JOIN sites_pageversion lv
    ON lv.organization_id = p.organization_id AND lv.id = p.live_version_id
  LEFT JOIN sites_pageversion sv
    ON sv.organization_id = p.organization_id AND sv.id = p.scheduled_version_id
  LEFT JOIN accounts_user u ON u.id = p.locked_by_id
 WHERE p.organization_id = %(org)s AND s.organization_id = %(org)s AND s.slug = %(site)s
 ORDER BY p.path, p.id LIMIT 26
"""
PAGE_KEYS = (
    "id", "path", "title", "status", "has_unpublished_changes", "etag", "live_version",
    "scheduled_version", "go_live_at", "expire_at", "first_published_at", "last_published_at",
)  # fmt: skip


def _floor_pages(conn: Any, environ: dict[str, Any], start_response: Any) -> list[bytes]:
    import orjson

    from bench import floor

    parts = environ["PATH_INFO"].split("/")  # "", api, v1, orgs, org, sites, site, pages, ""
    try:
        claims = floor.verify_access_token(environ.get("HTTP_AUTHORIZATION", ""))
        with conn.transaction(), conn.cursor() as cur:
            _user, (org_id, _role, _suspended) = floor._enter(cur, claims, parts[4])
            rows = cur.execute(PAGES_SQL, {"org": org_id, "site": parts[6]}).fetchall()
    except floor.HttpError as exc:
        start_response(exc.status, [("Content-Type", "application/json")])
        return [orjson.dumps({"error": {"code": exc.code}})]
    results = []
    for row in rows[:25]:
        item = dict(zip(PAGE_KEYS, (*row[:5], f'"{row[5]}"', *row[6:12]), strict=True))
        item["locked_by"] = {"id": row[12], "email": row[13], "name": row[14]} if row[12] else None
        item |= {"locked_at": row[15], "created_at": row[16], "updated_at": row[17]}
        results.append(item)
    body = orjson.dumps({"next": None, "previous": None, "results": results})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def _floor_app(dsn: dict[str, str]) -> Any:
    import psycopg

    conn = psycopg.connect(**dsn, autocommit=True)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"].startswith("/api/v1/orgs/"):
            return _floor_pages(conn, environ, start_response)
        parts = environ["PATH_INFO"].split("/", 4)  # "", "p", org, site, rest
        if len(parts) < 4 or parts[1] != "p":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        path = "/" + "/".join(s for s in (parts[4] if len(parts) > 4 else "").split("/") if s)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "SELECT site_status, site_name, site_settings, page_id, title, content, seo, nav"
                " FROM app.serve_public_page(%s, %s, %s, %s)",
                [parts[2], parts[3], path, False],
            )
            row = cur.fetchone()
        if row is None or row[3] is None:
            start_response("404 Not Found", [("Content-Type", "text/html")])
            return [b"<h1>Not found</h1>"]
        _, site_name, _, _, title, content, _, nav = row
        body = "".join(
            f"<p>{html.escape(str(b.get('text') or b.get('label') or ''))}</p>" for b in content
        )
        links = "".join(
            f'<a href="{html.escape(n["path"])}">{html.escape(n["title"])}</a>' for n in nav
        )
        page = (
            f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
            f"<body><header>{html.escape(site_name)}<nav>{links}</nav></header>"
            f"<main>{body}</main></body></html>"
        ).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page]

    return app


def _serve(kind: str, port: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.conf import settings

    os.environ["JWT_SIGNING_KEY"] = settings.SIMPLE_JWT["SIGNING_KEY"]  # read by bench.floor
    if kind == "app":
        from config.wsgi import application as app
    else:
        db = settings.DATABASES["default"]
        app = _floor_app({"dbname": db["NAME"], "user": db["USER"], "host": db["HOST"]})
    server = make_server(loadgen.HOST, port, app, handler_class=_Quiet)
    server.serve_forever()


def _start(kind: str) -> tuple[mp.Process, int]:
    port = loadgen.free_port()
    proc = mp.get_context("fork").Process(target=_serve, args=(kind, port), daemon=True)
    proc.start()
    loadgen.wait_until_up(port, timeout=60, path=PATHS[0])
    return proc, port


def _member_token() -> str:
    """A fresh session and access token for member@acme.test (as the API would mint)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Session, User
    from accounts.tokens import token_pair
    from organizations.tenancy import service_context

    with service_context(reason="bench: a token for the page list workload"):
        user = User.objects.get(email="member@acme.test")
        session = Session.objects.create(user=user, expires_at=timezone.now() + timedelta(hours=1))
    return token_pair(session)["access"]


def _measure(
    name: str, requests: list[Any], ports: tuple[int, int], seconds: float, rounds: int
) -> dict:
    app_port, floor_port = ports
    per_round = seconds / rounds
    p50s: dict[str, list[float]] = {"app": [], "floor": []}
    rps: dict[str, list[float]] = {"app": [], "floor": []}
    statuses: dict[str, Counter] = {"app": Counter(), "floor": Counter()}
    for r in range(rounds):
        order = [("app", app_port), ("floor", floor_port)]
        if r % 2:
            order.reverse()  # neither is always first
        paired = loadgen.run_streams(
            [loadgen.Stream.of(requests, port) for _, port in order],
            concurrency=1,
            seconds=per_round,
        )
        for (label, _), result in zip(order, paired, strict=True):
            p50s[label].append(result.percentile(50))
            statuses[label].update(result.statuses)
        for label, port in order:
            rps[label].append(
                loadgen.run(requests, port=port, concurrency=2, seconds=per_round / 2).rps
            )
    p50_ratios = [a / f for a, f in zip(p50s["app"], p50s["floor"], strict=True)]
    rps_ratios = [a / f for a, f in zip(rps["app"], rps["floor"], strict=True)]
    med = statistics.median
    return {
        "workload": name,
        "rounds": rounds,
        "p50_ms": {k: round(med(v), 3) for k, v in p50s.items()},
        "p50_ratio": round(med(p50_ratios), 3),
        "p50_ratios": [round(x, 3) for x in p50_ratios],
        "req_per_s_2_clients": {k: round(med(v), 1) for k, v in rps.items()},
        "req_per_s_ratio": round(med(rps_ratios), 3),
        "req_per_s_ratios": [round(x, 3) for x in rps_ratios],
        "statuses": {k: dict(v) for k, v in statuses.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10, help="per workload, all rounds")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    token = _member_token()
    public = [loadgen.HttpRequest("GET", p) for p in PATHS]
    pages = [loadgen.HttpRequest("GET", "/api/v1/orgs/acme/sites/acme-studio/pages/", token=token)]
    (app, app_port), (floor, floor_port) = _start("app"), _start("floor")
    try:
        for request, marker in ((public[0], b"Acme Studio"), (pages[0], b'"/about"')):
            for port in (app_port, floor_port):
                status, body = loadgen.fetch(request, port)
                assert status == 200 and marker in body, (port, status, body[:200])
        reports = [
            _measure("W8 GET /p/acme/acme-studio/{,about,contact}", public, (app_port, floor_port),
                     args.seconds, args.rounds),
            _measure("W9 GET /api/v1/orgs/acme/sites/acme-studio/pages/", pages,
                     (app_port, floor_port), args.seconds, args.rounds),
        ]  # fmt: skip
    finally:
        for proc in (app, floor):
            proc.terminate()
    reports[0]["target"] = "p50 <= 1.5 x floor"
    reports[1]["target"] = "p50 <= 2 x floor"
    print(json.dumps(reports, indent=2))
    return 0 if reports[0]["p50_ratio"] <= 1.5 and reports[1]["p50_ratio"] <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
