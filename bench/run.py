"""``make bench``: the platform's hot paths next to their baselines, in one run.

Steps (each printed with its time; ``--skip`` leaves out web, w6, w7, profile,
extras, realtime):

1. data      - ``bench_large`` (1,000 orgs x 1,000 rows) and ``bench_small``
               (10 x 100), reused when already loaded (``--fresh`` rebuilds);
2. prepare   - tokens, request targets, queries per request and plans (P),
               in a Django process per database (``bench/inproc.py``);
               data and prepare run only for web, W7 and profile: with all
               three skipped there are no bench databases, P or query counts;
3. web       - W0-W5 through gunicorn: the platform (app role), baseline (b)
               (same app, BYPASSRLS role), baseline (a) (``bench/floor.py``),
               and the platform and the floor on ``bench_small`` (W5), all
               running at once; at 1 client the servers of a workload are hit
               alternately, request by request, at 4 clients each alone in
               interleaved rounds;
4. W6, W7    - seeding and backup/restore next to plain COPY / pg_dump;
5. profile   - pyinstrument over W1 in-process;
6. extras    - the side benchmarks on the development database, after
               ``manage.py db_setup`` and ``seed`` (``bench/extras.py``): W8
               the live page and W9 the page list API against their floors
               (``bench/sites_public.py``), API key vs JWT
               (``bench/apikey_vs_jwt.py``), W3 with and without the quota
               check (``bench/billing_quota.py``), and the live feed
               (``bench/realtime.py``, on ``bench_small``; ``--skip realtime``);
7. report    - the tables on stdout, ``bench/results/<date>.md|.png``,
               ``latest.md``, ``latest.json``.

Exit status 1 when a plan check (P) fails or W4 finds a leak; the other
targets are reported pass/fail without failing the run (timings on a shared
2-core machine are evidence, not assertions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from bench import data, extras, loadgen, ops, report, workloads  # noqa: E402
from bench.server import GRANIAN, PRODUCTION_SERVER, SERVER_KINDS, THREADS, Server  # noqa: E402

WORK = BASE_DIR / ".data" / "bench"
STEPS = ("web", "w6", "w7", "profile", "extras", "realtime")
NEEDS_BENCH_DATA = ("web", "w7", "profile")
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * loadgen.cpu_count())))


def _log(message: str) -> None:
    print(message, flush=True)


class Timer:
    def __init__(self) -> None:
        self.sections: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        _log(f"== {name}")
        started = time.perf_counter()
        try:
            return fn()
        finally:
            self.sections[name] = time.perf_counter() - started
            _log(f"   {name}: {self.sections[name]:.1f} s")

    def summary(self) -> str:
        return ", ".join(f"{k} {v:.0f} s" for k, v in self.sections.items())


# --- environments ---------------------------------------------------------------


def run_keys() -> dict[str, str]:
    """The secrets production refuses to start without, fresh for each run."""
    from cryptography.fernet import Fernet

    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
        "INTEGRATIONS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def production_env(database_url: str, keys: dict[str, str], **extra: str) -> dict[str, str]:
    """Production settings (DEBUG off), plain http on 127.0.0.1, throttles out of the way."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "DB_NAME", "DJANGO_", "DEBUG", "SECURE_"))
    }
    return (
        env
        | keys
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": "production",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database_url,
            "SECURE_SSL_REDIRECT": "false",
            # One user makes thousands of requests a minute here; the throttle still runs.
            "THROTTLE_USER": "10000000/min",
            "LOG_LEVEL": "WARNING",
        }
        | extra
    )


def prepare(ds: data.Dataset, keys: dict[str, str]) -> dict[str, Any]:
    out = WORK / f"prepare-{ds.name}.json"
    env = production_env(
        data.app_url(ds.name),
        keys,
        ALLOWED_HOSTS="127.0.0.1,testserver",
        JWT_ACCESS_MINUTES="240",
    )
    done = subprocess.run(  # noqa: S603 - fixed argument list
        [sys.executable, str(BASE_DIR / "bench" / "inproc.py"), "prepare", str(out)],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,  # production logging reports the W4 probe's 404 on stderr
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"preparing {ds.name} failed")
    return json.loads(out.read_text())


def profile_w1(prep: dict[str, Any], keys: dict[str, str], out: Path) -> None:
    target = next(t for t in prep["targets"] if t["projects"])
    env = production_env(data.app_url(prep["database"]), keys, ALLOWED_HOSTS="127.0.0.1,testserver")
    subprocess.run(  # noqa: S603 - fixed argument list
        [
            sys.executable,
            str(BASE_DIR / "bench" / "inproc.py"),
            "profile",
            str(out),
            f"--path=/api/v1/orgs/{target['org']}/projects/?page_size={workloads.PAGE_SIZE}",
            f"--token={target['token']}",
            "--requests=300",
        ],
        env=env,
        cwd=BASE_DIR,
        check=True,
    )


# --- web workloads ---------------------------------------------------------------

WORKLOAD_ORDER = ("W0", "W1", "W2", "W3", "W4")


def servers(
    keys: dict[str, str], main: str, small: str | None, kind: str, *, full: bool
) -> dict[str, Server]:
    """The servers of one candidate ``kind``: the platform and the floor on ``main``; with
    ``full`` (the judged server) also baseline (b) and, given ``small``, W5's pair."""
    logs = WORK / "logs"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PG"))}

    def floor(name: str, db: str) -> Server:
        env = base_env | {"FLOOR_DATABASE_URL": data.app_url(db), **keys}
        return Server(
            name, "bench.floor:application", env, WORKERS, logs / f"{kind}-{name}.log", kind
        )

    def app(name: str, url: str) -> Server:
        return Server(
            name,
            "config.wsgi",
            production_env(url, keys),
            WORKERS,
            logs / f"{kind}-{name}.log",
            kind,
        )

    pool = {"app": app("app", data.app_url(main)), "floor": floor("floor", main)}
    if full:
        pool["bypass"] = app("bypass", data.owner_url(main))
        if small:
            pool["app_small"] = app("app_small", data.app_url(small))
            pool["floor_small"] = floor("floor_small", small)
    return pool


Group = tuple[str, list[tuple[str, Callable[[], workloads.Workload]]]]


def plan_groups(
    w3: Callable[[str], workloads.Workload],
    main: dict[str, Any],
    small: dict[str, Any] | None,
    *,
    full: bool,
    only: set[str],
) -> list[Group]:
    """Each workload with the servers it runs on (the platform first, then its baselines).
    A candidate server that is not judged (``full`` false) runs W0 and W1 on the platform
    and the floor only; ``only`` keeps the listed workloads."""
    w1, w2, w4 = (
        workloads.w1_list(main["targets"]),
        workloads.w2_detail(main["targets"]),
        workloads.w4_probe(main["targets"]),
    )
    w1_members: list[tuple[str, Callable[[], workloads.Workload]]] = [
        ("app", lambda: w1),
        ("bypass", lambda: w1),
        ("floor", lambda: w1),
    ]
    if small is not None:
        w1_small = workloads.w1_list(small["targets"])
        w1_members += [("app_small", lambda: w1_small), ("floor_small", lambda: w1_small)]
    groups: list[Group] = [
        ("W0", [("floor", workloads.w0_ping)]),
        ("W1", w1_members),
        ("W2", [("app", lambda: w2), ("bypass", lambda: w2), ("floor", lambda: w2)]),
        ("W3", [("app", lambda: w3("app")), ("floor", lambda: w3("floor"))]),
        ("W4", [("app", lambda: w4)]),
    ]
    if not full:
        groups = [
            (wid, [(s, b) for s, b in members if s in ("app", "floor")])
            for wid, members in groups
            if wid in ("W0", "W1")
        ]
    return [(wid, members) for wid, members in groups if not only or wid in only]


def sanity_check(running: dict[str, Server], main: dict[str, Any]) -> dict[str, Any]:
    """What each server answers to the same W1 and W2 request: the floor must return
    exactly the platform's objects. (b) may return more: without RLS a member also sees
    the org's private projects (visibility is enforced by RLS only)."""
    t = next(x for x in main["targets"] if x["projects"])
    checks: dict[str, Any] = {}
    for name, request in {
        "W1": loadgen.HttpRequest(
            "GET", f"/api/v1/orgs/{t['org']}/projects/?page_size=50", token=t["token"]
        ),
        "W2": loadgen.HttpRequest(
            "GET", f"/api/v1/orgs/{t['org']}/projects/{t['projects'][0]}/", token=t["token"]
        ),
    }.items():
        answers = {}
        for server in [s for s in ("app", "bypass", "floor") if s in running]:
            status, body = loadgen.fetch(request, running[server].port)
            payload = json.loads(body) if body else {}
            items = payload.get("results", [payload])
            answers[server] = (status, [i.get("id") for i in items], sorted(items[0]))
        app = answers["app"]
        differ = [s for s in ("floor",) if s in answers and answers[s] != app]
        extra = sorted(set(answers["bypass"][1]) - set(app[1])) if "bypass" in answers else []
        checks[name] = {
            "same_as_platform": [s for s in answers if s != "app" and answers[s] == app],
            "different": differ,
            "bypass_extra_ids": extra,
        }
        if differ:
            _log(f"   WARNING: {name}: {', '.join(differ)} answer differently from the platform")
        if extra:
            _log(
                f"   note: {name}: (b) also returns {len(extra)} object(s) RLS hides from this"
                " member (private projects): visibility lives in RLS only"
            )
    return checks


def _merge(total: loadgen.LoadResult, result: loadgen.LoadResult) -> None:
    total.latencies.extend(result.latencies)
    total.statuses.update(result.statuses)
    total.errors += result.errors
    total.seconds += result.seconds


def measure_kind(
    kind: str,
    pool: dict[str, Server],
    groups: list[Group],
    args: argparse.Namespace,
) -> tuple[dict[tuple[str, str, int], loadgen.LoadResult], dict[tuple[str, str], Any], list]:
    """``args.rounds`` interleaved rounds on one candidate server. A round: per workload,
    c=1 with one client alternating between the workload's servers request by request
    (``args.seconds`` per server: latencies side by side), then c=4 on each server alone
    (``args.round_seconds``: throughput), in reverse server order every other round so a
    drift of the machine does not always favour the same server. Returns the merged
    results, the workloads, and one record per round (the figures the targets are judged
    on: their median and spread)."""
    merged: dict[tuple[str, str, int], loadgen.LoadResult] = {}
    meta: dict[tuple[str, str], workloads.Workload] = {}
    records: list[dict[str, Any]] = []

    def record(wid: str, server: str, c: int, r: int, result: loadgen.LoadResult) -> None:
        _merge(merged.setdefault((wid, server, c), loadgen.LoadResult(concurrency=c)), result)
        records.append(
            {
                "kind": kind,
                "workload": wid,
                "server": server,
                "c": c,
                "round": r,
                "requests": result.count,
                "p50_ms": round(result.percentile(50), 3),
                "rps": round(result.rps, 1),
            }
        )

    _log(f"   [{kind}] warm-up")
    for _, members in groups:
        for server, build in members:
            loadgen.run(build().requests, port=pool[server].port, concurrency=4, seconds=0.5)
    for r in range(args.rounds):
        for wid, members in groups:
            built = [(server, build()) for server, build in members]
            if r % 2:
                built.reverse()
            results = loadgen.run_streams(
                [loadgen.Stream.of(w.requests, pool[server].port) for server, w in built],
                concurrency=1,
                seconds=args.seconds * len(built),
            )
            for (server, w), result in zip(built, results, strict=True):
                # Alternating: the server's own rate is requests / time spent on them.
                result.seconds = sum(result.latencies)
                meta[(wid, server)] = w
                record(wid, server, 1, r, result)
            builders = dict(members)
            for server, w in built:
                fresh = builders[server]() if wid == "W3" else w  # W3: new slugs every run
                alone = loadgen.run(
                    fresh.requests,
                    port=pool[server].port,
                    concurrency=4,
                    seconds=args.round_seconds,
                )
                record(wid, server, 4, r, alone)
        _log(
            f"   [{kind}] round {r + 1}/{args.rounds}: "
            + ", ".join(
                f"{x['workload']} {x['server']} c={x['c']} "
                + (f"p50 {x['p50_ms']:.2f} ms" if x["c"] == 1 else f"{x['rps']:.0f}/s")
                for x in records
                if x["round"] == r and x["workload"] == "W1"
            )
        )
    return merged, meta, records


def run_web(
    main: dict[str, Any],
    small: dict[str, Any] | None,
    keys: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Every candidate server in turn (``args.servers``; the judged one, ``args.server``,
    first and with every workload and baseline): start its servers, check their answers,
    run the interleaved rounds, read the workers' resident memory, stop them."""
    run_tag = datetime.now(UTC).strftime("%H%M%S")
    counter = iter(range(1_000_000))

    def w3(server: str) -> workloads.Workload:
        return workloads.w3_create(main["targets"], f"{run_tag}-{server}-{next(counter)}")

    rows: list[dict[str, Any]] = []
    rounds: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    loads: dict[str, list[float]] = {}
    checks: dict[str, Any] = {}
    kinds = [args.server] + [k for k in args.servers if k != args.server]
    for kind in kinds:
        full = kind == args.server
        groups = plan_groups(w3, main, small, full=full, only=args.only)
        if not groups:
            continue
        needed = {s for _, members in groups for s, _ in members}
        pool = {
            name: server
            for name, server in servers(
                keys, main["database"], small["database"] if small else None, kind, full=full
            ).items()
            if name in needed or name == "app"
        }
        load_before = os.getloadavg()[0]
        try:
            for server in pool.values():
                server.start()
                _log(f"   [{kind}] started {server.name} on 127.0.0.1:{server.port}")
            kind_checks = sanity_check(pool, main)
            if full:
                checks = kind_checks
            elif any(c["different"] for c in kind_checks.values()):
                checks[f"{kind} server"] = kind_checks
            merged, meta, records = measure_kind(kind, pool, groups, args)
            for name, server in pool.items():
                sizes = server.worker_rss_mb()
                memory.append(
                    {
                        "kind": kind,
                        "server": name,
                        "workers": len(sizes),
                        "rss_mb_median": round(statistics.median(sizes), 1) if sizes else None,
                        "rss_mb_max": round(max(sizes), 1) if sizes else None,
                    }
                )
        finally:
            for server in pool.values():
                server.stop()
        loads[kind] = [load_before, os.getloadavg()[0]]
        rounds += records
        rows += _rows(kind, merged, meta, main, small)
    order = {w: i for i, w in enumerate(WORKLOAD_ORDER)}
    servers_order = {name: i for i, name in enumerate(report.SERVER_LABELS)}
    kinds_order = {k: i for i, k in enumerate(kinds)}
    rows.sort(
        key=lambda r: (
            kinds_order[r["kind"]],
            order[r["workload"]],
            r["concurrency"],
            servers_order[r["server"]],
        )
    )
    return {"web": rows, "rounds": rounds, "memory": memory, "kind_load": loads, "checks": checks}


def _rows(
    kind: str,
    merged: dict[tuple[str, str, int], loadgen.LoadResult],
    meta: dict[tuple[str, str], workloads.Workload],
    main: dict[str, Any],
    small: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    rows = []
    for (wid, server, _), result in merged.items():
        w = meta[(wid, server)]
        prep = small if server.endswith("_small") and small else main
        query = prep["queries"].get(wid) if wid in ("W1", "W2", "W3", "W4") else None
        rows.append(
            {
                "kind": kind,
                "workload": wid,
                "title": w.title,
                "server": server,
                "db": prep["database"],
                **result.summary(),
                "unexpected": result.count - result.statuses.get(w.expected_status, 0),
                "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
                "statements": (
                    report.statements(query) if query and not server.startswith("floor") else ""
                ),
            }
        )
    return rows


# --- background load -----------------------------------------------------------


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over ``seconds`` (from /proc/stat), whoever uses them."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_for_quiet(limit: float, timeout: float) -> float:
    """Wait (up to ``timeout`` s) until other work leaves the CPUs mostly idle; return the
    busy share last seen. The measurements are still made when the box stays busy: the
    report shows the figure so the reader can judge."""
    deadline = time.monotonic() + timeout
    busy = cpu_busy()
    while busy > limit and time.monotonic() < deadline:
        _log(f"   CPUs {busy:.0%} busy with other work; waiting for < {limit:.0%} ...")
        busy = cpu_busy(5.0)
    return busy


# --- machine ---------------------------------------------------------------


def git_commit() -> str:
    """The checkout the figures belong to (``git describe --always --dirty``), or ``""``."""
    return subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        check=False,
    ).stdout.strip()


def machine() -> dict[str, Any]:
    import gunicorn
    import psycopg

    try:
        import granian

        granian_version = granian.__version__
    except ImportError:
        granian_version = "not installed"

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    with data.admin_connect() as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
        shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    commit = git_commit()
    now = datetime.now(UTC)
    return {
        "date": now.strftime("%Y-%m-%d"),
        "started": now.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "cores": loadgen.cpu_count(),
        "cpu": cpu,
        "memory_gb": mem_kb / 1024 / 1024,
        "kernel": platform.release(),
        "postgres": version,
        "shared_buffers": shared_buffers,
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "granian": granian_version,
        "threads": THREADS,
        "psycopg": psycopg.__version__,
        "workers": WORKERS,
    }


# --- main ---------------------------------------------------------------


def judge_noise(busy: float | None, load_before: float | None, cores: int) -> dict[str, Any]:
    """Whether the machine was quiet enough for the timings to be judged: not when the
    1-minute load average already exceeded the cores before the web runs, nor when other
    work kept the CPUs more than half busy."""
    reasons = []
    if load_before is not None and load_before > cores:
        reasons.append(f"1-min load average {load_before:.1f} > {cores} cores before the start")
    if busy is not None and busy > 0.5:
        reasons.append(f"CPUs {busy:.0%} busy with other work before the start")
    return {"too_busy": bool(reasons), "reasons": reasons}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the bench databases")
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds per web workload (>= 5 judges)"
    )
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="c=1: seconds per server and round"
    )
    parser.add_argument(
        "--round-seconds", type=float, default=1.0, help="c=4: seconds per server and round"
    )
    parser.add_argument(
        "--skip",
        default="",
        help=f"comma list of: {','.join(STEPS)} (with web,w7,profile all skipped: no data,"
        " prepare)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma list of web workloads (W0-W4) to run; the other steps are skipped",
    )
    parser.add_argument(
        "--db",
        choices=("large", "small"),
        default="large",
        help="the database the platform and the floor serve (small: no W5, quick)",
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVER_KINDS),
        help="candidate servers measured (platform and floor on each)",
    )
    parser.add_argument(
        "--server",
        choices=SERVER_KINDS,
        default=PRODUCTION_SERVER,
        help="the server the targets are judged on (every workload and baseline runs on it)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="W1 only, on bench_small, on the judged server: one answer in under a minute",
    )
    parser.add_argument(
        "--quiet-below", type=float, default=0.3, help="wait for CPUs less busy than this"
    )
    parser.add_argument("--quiet-wait", type=float, default=60, help="at most this long (s)")
    parser.add_argument("--w6-orgs", type=int, default=100)
    parser.add_argument("--w6-rows", type=int, default=300)
    parser.add_argument(
        "--extras-seconds",
        type=float,
        default=5.0,
        help="extras: bench/sites_public.py --seconds (per workload, W8 and W9, all rounds)",
    )
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if unknown := skip - set(STEPS):
        parser.error(f"--skip: unknown step(s) {', '.join(sorted(unknown))}")
    args.only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    if unknown := args.only - set(WORKLOAD_ORDER):
        parser.error(f"--only: unknown workload(s) {', '.join(sorted(unknown))}")
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if unknown := set(args.servers) - set(SERVER_KINDS):
        parser.error(f"--servers: unknown server(s) {', '.join(sorted(unknown))}")
    if "granian" in args.servers and not GRANIAN.exists():
        _log("   note: granian is not installed (the bench extra installs it); not measured")
        args.servers.remove("granian")
    if args.quick:
        args.only, args.db, args.servers = {"W1"}, "small", [args.server]
        if args.seconds == parser.get_default("seconds"):
            args.seconds = args.round_seconds = 0.5
        args.quiet_wait = min(args.quiet_wait, 5)
    if args.only:
        skip |= set(STEPS) - {"web"}
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    bench_data = not skip.issuperset(NEEDS_BENCH_DATA)
    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    meta = machine()
    meta["server"] = args.server
    meta["partial"] = bool(args.only)
    _log(f"bench: {meta['cores']} cores, {meta['memory_gb']:.1f} GB, {meta['postgres']}")

    from organizations.operations.scale_seed import seeding_steps

    steps = [label for label, _ in seeding_steps("seed_scale")]
    if "projects" not in steps:
        _log("   WARNING: no projects seed_scale step; W1-W4 need projects")
    keys = run_keys()
    results: dict[str, Any] = {"web": [], "rounds": [], "memory": [], "queries": {}, "plans": {}}
    prepared: list[data.Prepared] = []
    main_ds = data.SMALL if args.db == "small" else data.LARGE
    w5 = args.db == "large" and (not args.only or "W1" in args.only)
    main_prep: dict[str, Any] = {}
    small_prep: dict[str, Any] | None = None
    if bench_data:
        wanted = [main_ds] + ([data.SMALL] if w5 else [])
        if "w7" not in skip and data.LARGE not in wanted:
            wanted.append(data.LARGE)
        prepared = timer.run(
            "data", lambda: [data.ensure(ds, steps, fresh=args.fresh) for ds in wanted]
        )
        preps = timer.run(
            "prepare",
            lambda: {
                ds.name: prepare(ds, keys) for ds in ([main_ds] + ([data.SMALL] if w5 else []))
            },
        )
        main_prep = preps[main_ds.name]
        small_prep = preps.get(data.SMALL.name) if w5 else None
        results["queries"] = {name: p["queries"] for name, p in preps.items()}
        results["plans"] = {name: p["plans"] for name, p in preps.items()}
    else:
        _log("== data, prepare: skipped (web, w7 and profile are skipped)")
    background = "not measured"
    if "web" not in skip:
        with data.admin_connect() as conn:
            conn.execute("CHECKPOINT")  # no dirty buffers left over from loading
        busy = wait_for_quiet(args.quiet_below, args.quiet_wait)
        load_before = os.getloadavg()[0]
        web = timer.run("web", lambda: run_web(main_prep, small_prep, keys, args))
        load_after = os.getloadavg()[0]
        results["web"], results["same_answers"] = web["web"], web["checks"]
        results["rounds"], results["memory"] = web["rounds"], web["memory"]
        results["noise"] = judge_noise(busy, load_before, meta["cores"]) | {
            "cpu_busy_before": round(busy, 3),
            "load_before": round(load_before, 2),
            "load_after": round(load_after, 2),
            "load_per_server": {k: [round(x, 2) for x in v] for k, v in web["kind_load"].items()},
        }
        background = (
            f"CPUs {busy:.0%} busy just before the web runs (other processes); 1-min load"
            f" average {load_before:.1f} before, {load_after:.1f} after them"
        )
        if results["noise"]["too_busy"]:
            _log("   WARNING: too busy to judge: " + "; ".join(results["noise"]["reasons"]))
    if "w6" not in skip:
        w6 = timer.run("W6", lambda: ops.w6_seed(WORK, args.w6_orgs, args.w6_rows))
        results["w6"] = w6.as_dict()
    if "w7" not in skip:
        w7 = timer.run("W7", lambda: ops.w7_backup(WORK / "w7", data.LARGE.name))
        results["w7"] = w7.as_dict()
    if "profile" not in skip:
        profile = report.RESULTS_DIR / "profile-w1.txt"
        timer.run("profile", lambda: profile_w1(main_prep, keys, profile))
        results["profile"] = profile.name
    if "extras" not in skip:
        results["extras"] = timer.run(
            "extras",
            lambda: extras.run(
                seconds=args.extras_seconds, rounds=args.rounds, realtime="realtime" not in skip
            ),
        )
    meta |= {
        "datasets": "; ".join(
            f"{p.dataset.name} {p.dataset.orgs:,} orgs x {p.dataset.rows_per_org:,} rows"
            f" ({'built' if p.built else 'reused'} in {p.seconds:.0f} s)"
            for p in prepared
        )
        or "bench databases not used (web, W7 and profile skipped)",
        "main_db": main_ds.name,
        "load": (
            f"{args.rounds} interleaved rounds per workload and server kind: 1 client"
            f" alternating between a workload's servers request by request ({args.seconds:g} s"
            f" per server), then 4 clients on each server alone ({args.round_seconds:g} s);"
            " one new connection per request"
            + (f"; only {', '.join(sorted(args.only))}" if args.only else "")
            if "web" not in skip
            else "web workloads skipped"
        ),
        "servers": [args.server] + [k for k in args.servers if k != args.server],
        "rounds": args.rounds,
        "background": background,
        "wall_seconds": time.perf_counter() - started,
        "timings": timer.summary(),
    }
    results["meta"] = meta
    targets = report.evaluate(results)
    # A partial run (--only, --quick) leaves the committed results alone.
    out_dir = WORK / "results" if args.only else report.RESULTS_DIR
    md = report.write(results, targets, out_dir, chart_too=not args.only)
    _log("")
    for table in (report.web_table, report.servers_table, report.ops_table, report.extras_table):
        rows = table(results)
        if len(rows) > 1:  # a header alone: the step was skipped
            _log(report.console(rows))
            _log("")
    for line in report.noise_lines(results):
        _log(line)
    _log(report.console(report.targets_table(targets)))
    _log(f"\nwritten {md.relative_to(BASE_DIR)} (+ latest.md, latest.json)")
    _log(f"total {meta['wall_seconds'] / 60:.1f} min")
    hard = [t for t in targets if t.name.startswith(("P plans", "W4")) and t.ok is False]
    return 1 if hard else 0


if __name__ == "__main__":
    raise SystemExit(main())
