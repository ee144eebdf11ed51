"""A/B of one lever, in-process: the same requests through Django's WSGI handler with
the lever's old code path ("before", patched back in for the block) and the current
code ("after"), in alternating blocks (ABBA order), in one process.

Both variants share every condition of the machine within a fraction of a second, so
the per-block-pair ratio holds up under load where wall-clock figures of separate runs
do not (issue 21: measure each lever in isolation). No HTTP server, no load
generator: what is left is the application's own work per request.

    .venv/bin/python bench/ab.py LEVER [--db bench_small] [--pairs 30] [--per-block 20]
    .venv/bin/python bench/ab.py --list

The database must exist (``make bench`` or ``bench/run.py --quick`` builds
``bench_small``). The process runs with production settings (DEBUG off) as the app
role, a fresh session and access token per organization of the database (requests
round-robin over them), and ``THROTTLE_USER`` at its default (1,200/min): each of the
10 members of ``bench_small`` stays under it. Prints JSON: per variant the median ms
per request over blocks (min-max), wall clock and the process's own CPU time (the
Python side; far less disturbed by other processes than the wall clock), and the
median (min-max) of the per-pair ratios after / before.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

LEVERS: dict[str, tuple[str, Callable[[], Any]]] = {}


def lever(name: str, path: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register a lever: ``path`` is the request it is measured on ({org} filled in), the
    function a context manager that puts the old code path back while it is open."""

    def register(fn: Callable[[], Any]) -> Callable[[], Any]:
        LEVERS[name] = (path, contextmanager(fn))
        return fn

    return register


# --- levers: each puts the code as it was before the change back --------------------


@lever("throttle", "/api/v1/orgs/{org}/projects/?page_size=50")
def _drf_throttles() -> Iterator[None]:
    """DRF's sliding-log throttles (the classes before issue 21)."""
    from rest_framework import throttling
    from rest_framework.views import APIView

    from integrations.apikeys import UserRateThrottle, is_api_key_request

    class OldUser(throttling.UserRateThrottle):
        def get_cache_key(self, request: Any, view: Any) -> str | None:
            if is_api_key_request(request):
                return None
            return super().get_cache_key(request, view)

    class OldKey(throttling.SimpleRateThrottle):
        scope = "api_key"

        def get_cache_key(self, request: Any, view: Any) -> str | None:
            if not is_api_key_request(request):
                return None
            return self.cache_format % {"scope": self.scope, "ident": request.auth.id}

    original = APIView.get_throttles

    def old(self: Any) -> list[Any]:
        if UserRateThrottle not in self.throttle_classes:  # a view with throttles of its own
            return original(self)
        return [throttling.AnonRateThrottle(), OldUser(), OldKey()]

    APIView.get_throttles = old
    try:
        yield
    finally:
        APIView.get_throttles = original


@contextmanager
def _project_annotations(
    my_override: Callable[..., Any], is_favorite: Callable[..., Any]
) -> Iterator[None]:
    """``projects.selectors`` builds ``my_override``/``is_favorite`` with these for the block."""
    from projects import selectors

    saved = selectors._my_override, selectors._is_favorite
    selectors._my_override, selectors._is_favorite = my_override, is_favorite
    try:
        yield
    finally:
        selectors._my_override, selectors._is_favorite = saved


@lever("subqueries", "/api/v1/orgs/{org}/projects/?page_size=50")
def _orm_subqueries() -> Iterator[None]:
    """``my_override``/``is_favorite`` as ORM ``Subquery``/``Exists`` (before issue 21)."""
    from django.db.models import Exists, OuterRef, Subquery

    from projects.models import Favorite, ProjectMember

    def my_override(organization_id: Any, user_id: Any) -> Subquery:
        return Subquery(
            ProjectMember.objects.filter(
                organization_id=OuterRef("organization_id"),
                project_id=OuterRef("pk"),
                user_id=user_id,
            ).values("role")[:1]
        )

    def is_favorite(organization_id: Any, user_id: Any) -> Exists:
        return Exists(
            Favorite.objects.filter(
                organization_id=OuterRef("organization_id"),
                project_id=OuterRef("pk"),
                user_id=user_id,
            )
        )

    with _project_annotations(my_override, is_favorite):
        yield


@lever("org-constant", "/api/v1/orgs/{org}/projects/?page_size=50")
def _org_correlated() -> Iterator[None]:
    """The per-user sub-selects matched on the outer row's ``organization_id`` (before
    issue 20's routing fix made it a parameter)."""
    from django.db.models import BooleanField, CharField

    from projects import selectors

    class Correlated(selectors._OfProjectAndUser):
        def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
            outer = compiler.quote_name_unless_alias(compiler.query.base_table)
            template = self.template.replace("= %s AND", '= {p}."organization_id" AND', 1)
            return template.format(p=outer), self.params[1:]

    def my_override(organization_id: Any, user_id: Any) -> Any:
        return Correlated(selectors._MY_OVERRIDE_SQL, organization_id, user_id, CharField())

    def is_favorite(organization_id: Any, user_id: Any) -> Any:
        return Correlated(selectors._IS_FAVORITE_SQL, organization_id, user_id, BooleanField())

    with _project_annotations(my_override, is_favorite):
        yield


@lever("site-creator", "/api/v1/orgs/{org}/sites/site-0000/pages/")
def _site_with_creator() -> Iterator[None]:
    """Every route under a site loads the site with its creator (before issue 21)."""
    from sites import selectors

    original = selectors.site_by_slug

    def with_creator(**kwargs: Any) -> Any:
        return original(**(kwargs | {"with_creator": True}))

    selectors.site_by_slug = with_creator
    try:
        yield
    finally:
        selectors.site_by_slug = original


@lever("list-clones", "/api/v1/orgs/{org}/projects/?page_size=50")
def _list_clones() -> Iterator[None]:
    """``projects_for_user`` with ``select_related("created_by").defer("search")`` (which
    ``.values()`` drops), as before issue 21."""
    from projects import selectors

    original = selectors.projects_for_user

    def with_clones(**kwargs: Any) -> Any:
        return original(**kwargs).select_related("created_by").defer("search")

    selectors.projects_for_user = with_clones
    try:
        yield
    finally:
        selectors.projects_for_user = original


@lever("noop", "/api/v1/orgs/{org}/projects/?page_size=50")
def _noop() -> Iterator[None]:
    """Nothing changes: the harness's own noise (the ratio should be 1)."""
    yield


# --- the measurement -------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    from bench.inproc import mint_tokens, pick_targets
    from organizations.tenancy import service_context

    with service_context(reason="bench: a/b targets"):
        targets = pick_targets(args.orgs)
    mint_tokens(targets)
    path, before = LEVERS[args.lever]
    handler = WSGIHandler()

    def environ(t: dict[str, Any]) -> dict[str, Any]:
        full = path.format(org=t["org"])
        route, _, query = full.partition("?")
        return {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": route,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {t['token']}",
            "HTTP_ACCEPT": "application/json",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }

    statuses: dict[str, int] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    i = 0

    def block(n: int) -> tuple[float, float]:
        nonlocal i
        started, cpu = time.perf_counter(), time.thread_time()
        for _ in range(n):
            t = targets[i % len(targets)]
            i += 1
            body = handler(environ(t), start_response)
            b"".join(body)
            if hasattr(body, "close"):
                body.close()
        return (
            (time.perf_counter() - started) / n * 1000,
            (time.thread_time() - cpu) / n * 1000,
        )

    for _ in range(3):  # warm-up: caches, prepared statements, both variants
        block(len(targets))
        with before():
            block(len(targets))
    if args.marks:
        # Under callgrind --dump-before=crc32_z (zlib's, which nothing on the measured
        # path calls; checked by the number of parts): each mark ends a profile part, so
        # the parts after the warm-up are the blocks before, after, after, before (ABBA).
        import zlib

        def mark() -> None:
            zlib.crc32(b"bench")

        for variant in ("before", "after", "after", "before"):  # settle, not counted
            if variant == "before":
                with before():
                    block(args.per_block)
            else:
                block(args.per_block)
        mark()
        for variant in ("before", "after", "after", "before") * args.abba:
            if variant == "before":
                with before():
                    block(args.per_block)
            else:
                block(args.per_block)
            mark()
        return
    times: dict[str, dict[str, list[float]]] = {
        clock: {"before": [], "after": []} for clock in ("wall", "cpu")
    }
    ratios: dict[str, list[float]] = {"wall": [], "cpu": []}
    for p in range(args.pairs):
        order = ("before", "after") if p % 2 == 0 else ("after", "before")
        pair = {}
        for variant in order:
            if variant == "before":
                with before():
                    pair[variant] = block(args.per_block)
            else:
                pair[variant] = block(args.per_block)
            times["wall"][variant].append(pair[variant][0])
            times["cpu"][variant].append(pair[variant][1])
        ratios["wall"].append(pair["after"][0] / pair["before"][0])
        ratios["cpu"].append(pair["after"][1] / pair["before"][1])
    med = statistics.median

    def spread(values: list[float], digits: int = 3) -> dict[str, float]:
        return {
            "median": round(med(values), digits),
            "min": round(min(values), digits),
            "max": round(max(values), digits),
        }

    print(
        json.dumps(
            {
                "lever": args.lever,
                "path": path,
                "database": args.db,
                "requests_per_block": args.per_block,
                "pairs": args.pairs,
                "statuses": statuses,
                # wall: the request as a client waits for it (database included);
                # cpu: this process's own CPU time (the Python side), which other
                # processes on a loaded machine disturb far less.
                "ms_per_request": {
                    clock: {k: spread(v) for k, v in by.items()} for clock, by in times.items()
                },
                "after_over_before": {clock: spread(v, 4) for clock, v in ratios.items()},
                "load_average": round(os.getloadavg()[0], 2),
            },
            indent=1,
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lever", nargs="?", choices=sorted(LEVERS))
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--db", default="bench_small")
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--per-block", type=int, default=20)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind's callgrind instead (repeatable under load;"
        " minutes)",
    )
    parser.add_argument(
        "--abba", type=int, default=2, help="--instructions: ABBA sequences (4 blocks each)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--marks", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.list or not args.lever:
        for name, (path, fn) in sorted(LEVERS.items()):
            print(f"{name:12} {path}  {(fn.__doc__ or '').strip().splitlines()[0]}")
        return 0
    if args.child:
        _child(args)
        return 0
    import django

    django.setup()
    from bench import data
    from bench.run import production_env, run_keys

    env = production_env(
        data.app_url(args.db), run_keys(), ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="ERROR"
    )
    env.pop("THROTTLE_USER")  # the default rate: what a deployment runs
    if not args.instructions:
        return subprocess.run(  # noqa: S603 - fixed argument list
            [sys.executable, __file__, *sys.argv[1:], "--child"], env=env, cwd=BASE_DIR, check=False
        ).returncode
    return instructions(args, env)


def instructions(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Instructions per request of each variant, counted by callgrind in one process
    (blocks before, after, after, before after the warm-up)."""
    import re
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        out = Path(tmp) / "cg.out"
        done = subprocess.run(  # noqa: S603 - fixed argument list
            [  # noqa: S607 - valgrind from PATH (docs/performance.md)
                "valgrind",
                "--tool=callgrind",
                "--dump-before=crc32_z",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                args.lever,
                f"--db={args.db}",
                f"--orgs={args.orgs}",
                f"--per-block={args.per_block}",
                f"--abba={args.abba}",
                "--child",
                "--marks",
            ],
            env=env | {"PYTHONHASHSEED": "0"},
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        parts = sorted(Path(tmp).glob("cg.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        totals = []
        for part in parts:
            found = re.search(r"^(?:summary|totals): (\d+)", part.read_text(), re.M)
            totals.append(int(found.group(1)) if found else 0)
    expected = 1 + 4 * args.abba  # one part per mark (what follows the last: cg.out)
    if done.returncode != 0 or len(totals) != expected:
        sys.stderr.write(done.stderr[-3000:] + f"\n{len(totals)} profile parts, not {expected}\n")
        return 1
    blocks = totals[1:]  # part 0: start-up and warm-up
    variants = ("before", "after", "after", "before") * args.abba
    by: dict[str, list[float]] = {"before": [], "after": []}
    for variant, total in zip(variants, blocks, strict=True):
        by[variant].append(total / args.per_block)
    per = {k: statistics.median(v) for k, v in by.items()}
    print(
        json.dumps(
            {
                "lever": args.lever,
                "path": LEVERS[args.lever][0],
                "database": args.db,
                "requests_per_block": args.per_block,
                "instructions_per_request": {k: round(v) for k, v in per.items()},
                "per_block": {k: [round(x) for x in v] for k, v in by.items()},
                "after_over_before": round(per["after"] / per["before"], 4),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
