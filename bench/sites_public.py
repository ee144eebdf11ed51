"""W8: the live site's page (``GET /p/acme/acme-studio/``) against its same-run floor.

A short, standalone run (the full ``make bench`` is too heavy for a shared box):

    .venv/bin/python bench/sites_public.py [--seconds 10]

Needs the demo data (``manage.py seed``). Two servers, started here, each in its
own process and both on the same single-threaded ``wsgiref`` server (the bench
extra's gunicorn is not required), so the ratio compares the applications only:

* ``app``   - ``config.wsgi`` (DEBUG off), as the app role: middleware, URL
  resolution, ``ATOMIC_REQUESTS``, one ``app.serve_public_page`` call (which
  also counts the view), the Django template;
* ``floor`` - a bare WSGI function doing the same database work with plain
  psycopg (``BEGIN``, the same function call, ``COMMIT``) and writing the page
  with ``str.format``: the least any implementation of this page must do.

The two are measured in the same milliseconds (requests alternate between
them, 1 client) for p50, then each alone at 2 clients for req/s. Target:
p50 <= 2 x the floor.
"""

from __future__ import annotations

import argparse
import html
import json
import multiprocessing as mp
import os
import sys
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


def _floor_app(dsn: dict[str, str]) -> Any:
    import psycopg

    conn = psycopg.connect(**dsn, autocommit=True)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
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
    if kind == "app":
        from config.wsgi import application as app
    else:
        from django.conf import settings

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    requests = [loadgen.HttpRequest("GET", p) for p in PATHS]
    (app, app_port), (floor, floor_port) = _start("app"), _start("floor")
    try:
        for port in (app_port, floor_port):
            status, body = loadgen.fetch(requests[0], port)
            assert status == 200 and b"Acme Studio" in body, (port, status)
        paired = loadgen.run_streams(
            [loadgen.Stream.of(requests, app_port), loadgen.Stream.of(requests, floor_port)],
            concurrency=1,
            seconds=args.seconds,
        )
        alone = {
            name: loadgen.run(requests, port=port, concurrency=2, seconds=args.seconds / 2)
            for name, port in (("app", app_port), ("floor", floor_port))
        }
    finally:
        for proc in (app, floor):
            proc.terminate()
    app_p50, floor_p50 = paired[0].percentile(50), paired[1].percentile(50)
    report = {
        "workload": "W8 GET /p/acme/acme-studio/{,about,contact}",
        "p50_ms": {"app": round(app_p50, 3), "floor": round(floor_p50, 3)},
        "p50_ratio": round(app_p50 / floor_p50, 2),
        "req_per_s_2_clients": {k: round(v.rps, 1) for k, v in alone.items()},
        "req_per_s_ratio": round(alone["app"].rps / alone["floor"].rps, 2),
        "statuses": {"app": dict(paired[0].statuses), "floor": dict(paired[1].statuses)},
        "target": "p50 <= 2 x floor",
    }
    print(json.dumps(report, indent=2))
    return 0 if report["p50_ratio"] <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
