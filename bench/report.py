"""Targets, the printed table, ``bench/results/<date>.md``/``.png``, ``latest.md``/``.json``.

``results`` is the plain dict ``run.py`` assembles (JSON-serialisable):
``meta``, ``web`` (one row per workload x server x concurrency), ``queries`` and
``plans`` (per database), ``w6``, ``w7``, ``extras`` (the side benchmarks on the
development database, ``bench/extras.py``), ``timings``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
KIND_LABELS = {
    "sync": "gunicorn sync",
    "gthread": "gunicorn gthread",
    "granian": "granian WSGI",
}
SERVER_LABELS = {
    "app": "platform (RLS, app role)",
    "bypass": "(b) same endpoint, BYPASSRLS role",
    "floor": "(a) floor: psycopg + orjson",
    "app_small": "platform @ 10 orgs (W5)",
    "floor_small": "(a) floor @ 10 orgs (W5)",
}
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    limit: str
    ok: bool | None  # None: could not be measured
    margin: str
    info: bool = False  # shown for context, not a target
    spread: str = ""  # min-max over the rounds, when measured in rounds
    noise: bool = False  # the spread crosses the limit: neither PASS nor FAIL

    @property
    def verdict(self) -> str:
        if self.info:
            return "info: " + ("within" if self.ok else "outside")
        if self.ok is None:
            return "n/a"
        if self.noise:
            return "within noise"
        return "PASS" if self.ok else "FAIL"


# --- lookups ---------------------------------------------------------------


def judged(results: dict[str, Any]) -> str:
    """The server kind the targets are judged on."""
    return results.get("meta", {}).get("server", "sync")


def web_row(
    results: dict[str, Any], workload: str, server: str, c: int, kind: str | None = None
) -> dict[str, Any] | None:
    kind = kind or judged(results)
    for row in results["web"]:
        if (row["workload"], row["server"], row["concurrency"]) == (workload, server, c) and (
            row.get("kind", kind) == kind
        ):
            return row
    return None


def series(
    results: dict[str, Any],
    workload: str,
    server: str,
    c: int,
    metric: str,
    kind: str | None = None,
) -> dict[int, float]:
    """One figure per round (``p50_ms`` or ``rps``) of a server on a workload."""
    kind = kind or judged(results)
    return {
        r["round"]: r[metric]
        for r in results.get("rounds", [])
        if (r["kind"], r["workload"], r["server"], r["c"]) == (kind, workload, server, c)
        and r[metric]
        and not math.isnan(r[metric])
    }


def ratios(num: dict[int, float], den: dict[int, float]) -> list[float]:
    """The ratio of two servers in each round both were measured in."""
    return [num[r] / den[r] for r in sorted(num) if den.get(r)]


def statements(query: dict[str, Any]) -> int:
    """Statements of a request, transaction control (BEGIN/COMMIT/SAVEPOINT) excluded."""
    return sum(1 for sql in query["sql"] if not sql.startswith(TRANSACTION_CONTROL))


def _ratio_target(
    name: str, num: float | None, den: float | None, limit: float, *, at_most: bool, unit: str
) -> Target:
    if not num or not den or math.isnan(num) or math.isnan(den):
        return Target(name, "not measured", "", None, "")
    ratio = num / den
    ok = ratio <= limit if at_most else ratio >= limit
    margin = f"{(ratio / limit - 1) * 100:+.0f}% vs limit"
    sign = "<=" if at_most else ">="
    return Target(name, f"{ratio:.3f}x ({unit})", f"{sign} {limit:.3g}x", ok, margin)


def rounds_target(
    name: str, values: list[float], limit: float, *, at_most: bool, unit: str = ""
) -> Target:
    """A target judged on the median of its per-round ratios. When the rounds' min-max
    crosses the limit the machine's noise is as large as the distance to it: the verdict is
    "within noise", not PASS or FAIL."""
    if not values:
        return Target(name, "not measured", "", None, "")
    median = statistics.median(values)
    low, high = min(values), max(values)
    ok = median <= limit if at_most else median >= limit
    noise = low <= limit <= high and len(values) > 1
    sign = "<=" if at_most else ">="
    return Target(
        name,
        f"{median:.3f}x median of {len(values)} rounds" + (f" ({unit})" if unit else ""),
        f"{sign} {limit:.3g}x",
        ok,
        f"{(median / limit - 1) * 100:+.0f}% vs limit",
        spread=f"{low:.3f}-{high:.3f}x",
        noise=noise,
    )


def _web_ratio(
    r: dict[str, Any],
    name: str,
    workload: str,
    servers: tuple[str, str],
    c: int,
    limit: float,
    *,
    at_most: bool,
) -> Target:
    metric = "p50_ms" if c == 1 else "rps"
    num = series(r, workload, servers[0], c, metric)
    den = series(r, workload, servers[1], c, metric)
    unit = ""
    if num and den:
        units = "ms" if c == 1 else "req/s"
        unit = (
            f"medians {statistics.median(num.values()):.2f} /"
            f" {statistics.median(den.values()):.2f} {units}"
        )
    return rounds_target(name, ratios(num, den), limit, at_most=at_most, unit=unit)


# Issue 21's goals (docs/performance.md, "Targets").
RLS_LIMIT = 1.03
FRAMEWORK_P50_LIMIT = 1.75
FRAMEWORK_RPS_LIMIT = 0.5
SCALING_LIMIT = 1.1
W1_STATEMENTS = 3
W6_LIMIT = 0.6
W7_LIMIT = 1.1
W8_LIMIT = 1.5
W9_LIMIT = 2.0


def evaluate(results: dict[str, Any]) -> list[Target]:
    """Every target of the issue: the median of its per-round ratios on the judged server,
    the rounds' min-max, and the margin of the median to the limit."""
    r = results
    orgs = _orgs(r, r.get("meta", {}).get("main_db", "bench_large"))
    targets = [
        _web_ratio(r, "RLS cost W1: p50 vs (b), c=1", "W1", ("app", "bypass"), 1, RLS_LIMIT,
                   at_most=True),
        _web_ratio(r, "RLS cost W2: p50 vs (b), c=1", "W2", ("app", "bypass"), 1, RLS_LIMIT,
                   at_most=True),
        _web_ratio(r, "Framework W1: p50 vs floor (a), c=1", "W1", ("app", "floor"), 1,
                   FRAMEWORK_P50_LIMIT, at_most=True),
        _web_ratio(r, "Framework W1: req/s vs floor (a), c=4", "W1", ("app", "floor"), 4,
                   FRAMEWORK_RPS_LIMIT, at_most=False),
        _web_ratio(r, f"Tenant scaling W5: W1 p50 {orgs} orgs / 10 orgs, c=1", "W1",
                   ("app", "app_small"), 1, SCALING_LIMIT, at_most=True),
        _queries_target(r),
        _leaks_target(r),
        _w6_target(r),
        _w7_target(r),
        _plans_target(r),
        *_extras_targets(r),
    ]  # fmt: skip
    if series(r, "W1", "floor_small", 1, "p50_ms"):
        targets.append(
            replace(
                _web_ratio(r, f"W5 for the floor (database only): {orgs} orgs / 10 orgs, c=1",
                           "W1", ("floor", "floor_small"), 1, SCALING_LIMIT, at_most=True),
                info=True,
            )
        )  # fmt: skip
    return [t for t in targets if t.ok is not None or not _partial(r)]


def _partial(r: dict[str, Any]) -> bool:
    """A run of some workloads only (``--only``, ``--quick``): unmeasured targets left out."""
    return bool(r.get("meta", {}).get("partial"))


def _orgs(r: dict[str, Any], db: str) -> str:
    found = re.search(rf"{db} ([\d,]+) orgs", r.get("meta", {}).get("datasets", ""))
    return found.group(1) if found else "1,000"


def _queries_target(r: dict[str, Any]) -> Target:
    counts = {
        f"{db} {case}": statements(q)
        for db, cases in r["queries"].items()
        for case, q in cases.items()
        if case.startswith("W1")
    }
    if not counts:
        return Target("Queries per W1 request", "not measured", "", None, "")
    values = set(counts.values())
    worst = max(values)
    ok = len(values) == 1 and worst <= W1_STATEMENTS
    trips = {
        len(q["sql"]) for cases in r["queries"].values() for c, q in cases.items() if c == "W1"
    }
    measured = (
        f"{'/'.join(map(str, sorted(values)))} statements over {len(counts)} cases "
        f"({'constant' if len(values) == 1 else 'NOT constant'}); "
        f"{'/'.join(map(str, sorted(trips)))} round trips with BEGIN/COMMIT"
    )
    return Target(
        "Queries per W1 request",
        measured,
        f"constant, <= {W1_STATEMENTS}",
        ok,
        f"{worst} of {W1_STATEMENTS}",
    )


def _leaks_target(r: dict[str, Any]) -> Target:
    rows = [row for row in r["web"] if row["workload"] == "W4"]
    if not rows:
        return Target("W4 cross-tenant leaks", "not measured", "= 0", None, "")
    leaks = sum(row["unexpected"] for row in rows)
    probes = sum(row["requests"] for row in rows)
    return Target(
        "W4 cross-tenant leaks (non-404)", f"{leaks} of {probes:,} probes", "= 0", leaks == 0, ""
    )


def _w6_target(r: dict[str, Any]) -> Target:
    w6 = r.get("w6")
    if not w6:
        return Target("W6 seed --scale vs plain COPY", "not measured", "", None, "")
    return _ratio_target(
        "W6 seed --scale rows/s vs plain COPY",
        w6["seed_rps"],
        w6["copy_rps"],
        W6_LIMIT,
        at_most=False,
        unit=f"{w6['seed_rps']:,.0f} / {w6['copy_rps']:,.0f} rows/s",
    )


def _w7_target(r: dict[str, Any]) -> Target:
    w7 = r.get("w7")
    if not w7 or not w7.get("available"):
        note = (w7 or {}).get("note") or "not measured"
        return Target("W7 backup+restore vs bare", note, "", None, "")
    return _ratio_target(
        "W7 backup+restore vs bare pg_dump/pg_restore",
        w7["managed_seconds"],
        w7["bare_seconds"],
        W7_LIMIT,
        at_most=True,
        unit=f"{w7['managed_seconds']:.1f} / {w7['bare_seconds']:.1f} s",
    )


def _extra(r: dict[str, Any], script: str, key: str | None = None) -> dict[str, Any]:
    """The figures of one side benchmark (``{}`` when it did not run or failed)."""
    run = (r.get("extras") or {}).get(script) or {}
    found = run.get(key) if key else run.get("figures")
    return found or {}


def _site_target(r: dict[str, Any], wid: str, name: str, limit: float) -> Target:
    item = _extra(r, "sites_public", wid)
    values = item.get("p50_ratios") or ([item["p50_ratio"]] if item.get("p50_ratio") else [])
    p50 = item.get("p50_ms", {})
    unit = f"{p50.get('app')} / {p50.get('floor')} ms" if p50 else ""
    return rounds_target(name, values, limit, at_most=True, unit=unit)


def _extras_targets(r: dict[str, Any]) -> list[Target]:
    keys = _extra(r, "apikey_vs_jwt")
    quota = _extra(r, "billing_quota")
    return [
        _site_target(r, "w8", "Sites W8: public page p50 vs its floor, c=1 (dev db)", W8_LIMIT),
        _site_target(r, "w9", "Sites W9: page list p50 vs its floor, c=1 (dev db)", W9_LIMIT),
        _ratio_target(
            "API key vs JWT: project list p50 (in-process, dev db)",
            keys.get("key_p50_ms"),
            keys.get("jwt_p50_ms"),
            1.05,
            at_most=True,
            unit=f"{keys.get('key_p50_ms')} / {keys.get('jwt_p50_ms')} ms",
        ),
        _ratio_target(
            "Billing W3: create p50 with quota check vs without (in-process, dev db)",
            quota.get("w3_with_quota_ms"),
            quota.get("w3_without_quota_ms"),
            1.10,
            at_most=True,
            unit=f"{quota.get('w3_with_quota_ms')} / {quota.get('w3_without_quota_ms')} ms",
        ),
    ]


def _plans_target(r: dict[str, Any]) -> Target:
    plans = r.get("plans", {})
    checked = [(db, name, p) for db, ps in plans.items() for name, p in ps.items()]
    if not checked:
        return Target("P plans", "not measured", "", None, "")
    bad = [f"{db} {name}: {'; '.join(p['problems'])}" for db, name, p in checked if not p["ok"]]
    measured = f"{len(checked) - len(bad)}/{len(checked)} hot queries index on organization_id"
    return Target(
        "P plans (app role, member claims)",
        measured + ("; " + " | ".join(bad) if bad else ""),
        "all, no Seq Scan on big tables",
        not bad,
        "",
    )


# --- text ---------------------------------------------------------------


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def web_table(results: dict[str, Any]) -> list[list[str]]:
    header = [
        "id",
        "workload",
        "server",
        "app / baseline",
        "db",
        "c",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "unexpected",
        "stmts/req",
    ]
    rows = [header]
    for row in results["web"]:
        rows.append(
            [
                "W5" if row["server"].endswith("_small") else row["workload"],
                row["title"],
                KIND_LABELS.get(row.get("kind", ""), row.get("kind", "")),
                SERVER_LABELS.get(row["server"], row["server"]),
                row["db"],
                str(row["concurrency"]),
                _fmt(row["requests"]),
                _fmt(row["rps"], 1),
                _fmt(row["p50_ms"]),
                _fmt(row["p95_ms"]),
                _fmt(row["p99_ms"]),
                _fmt(row["unexpected"]),
                str(row.get("statements", "")),
            ]
        )
    return rows


def ops_table(results: dict[str, Any]) -> list[list[str]]:
    rows = [["id", "operation", "measured", "baseline", "ratio"]]
    w6 = results.get("w6")
    if w6:
        rows.append(
            [
                "W6",
                f"seed --scale {w6['orgs']} orgs x {w6['rows_per_org']} rows ({w6['rows']:,} rows)",
                f"{w6['seed_rps']:,.0f} rows/s ({w6['seed_seconds']:.1f} s)",
                f"plain COPY {w6['copy_rps']:,.0f} rows/s ({w6['copy_seconds']:.1f} s)",
                f"{w6['seed_rps'] / w6['copy_rps']:.2f}x",
            ]
        )
    w7 = results.get("w7")
    if w7 and w7.get("available"):
        rows.append(
            [
                "W7",
                f"backup + restore of {w7['database']} (dump {w7['dump_bytes'] / 1e6:,.0f} MB)",
                f"{w7['managed_seconds']:.1f} s (backup {w7['backup_seconds']:.1f}"
                f" + restore {w7['restore_seconds']:.1f})",
                f"{w7['bare_seconds']:.1f} s (pg_dump {w7['bare_dump_seconds']:.1f}"
                f" + pg_restore {w7['bare_restore_seconds']:.1f})",
                f"{w7['managed_seconds'] / w7['bare_seconds']:.2f}x",
            ]
        )
    elif w7:
        rows.append(["W7", "backup + restore", w7.get("note", "not available"), "", ""])
    return rows


def w6_tables(results: dict[str, Any]) -> list[list[str]]:
    """W6 per table: where ``seed --scale`` spends its time next to plain COPY."""
    w6 = results.get("w6") or {}
    rows = [["table", "rows", "seed s", "seed rows/s", "COPY s", "COPY rows/s", "seed / COPY"]]
    for table, count in w6.get("tables", {}).items():
        seed_s = w6.get("seed_table_seconds", {}).get(table)
        copy_s = w6.get("copy_table_seconds", {}).get(table)
        rows.append(
            [
                table,
                _fmt(count),
                _fmt(seed_s) if seed_s is not None else "",
                _fmt(count / seed_s, 0) if seed_s else "",
                _fmt(copy_s) if copy_s is not None else "",
                _fmt(count / copy_s, 0) if copy_s else "",
                _fmt(copy_s / seed_s) + "x" if seed_s and copy_s else "",
            ]
        )
    return rows


def extras_table(results: dict[str, Any]) -> list[list[str]]:
    """The side benchmarks' figures next to their same-run baselines."""
    rows = [["id", "measurement", "measured", "baseline", "ratio"]]
    extras = results.get("extras") or {}
    for wid, title in (
        ("w8", "GET /p/acme/acme-studio/{,about,contact}"),
        ("w9", "GET /api/v1/orgs/acme/sites/acme-studio/pages/ (member)"),
    ):
        item = _extra(results, "sites_public", wid)
        if item:
            p50, rps = item["p50_ms"], item["req_per_s_2_clients"]
            odd = sum(n for k, n in item["statuses"]["app"].items() if str(k) != "200")
            rows.append(
                [
                    wid.upper(),
                    f"{title}, p50 at 1 client",
                    f"{_fmt(p50['app'])} ms" + (f" ({odd} answers not 200)" if odd else ""),
                    f"floor {_fmt(p50['floor'])} ms",
                    _spread(item.get("p50_ratios") or [item["p50_ratio"]], 3, "x"),
                ]
            )
            rows.append(
                [
                    wid.upper(),
                    f"{title}, req/s at 2 clients",
                    _fmt(rps["app"], 1),
                    f"floor {_fmt(rps['floor'], 1)}",
                    _spread(item.get("req_per_s_ratios") or [item["req_per_s_ratio"]], 3, "x"),
                ]
            )
    keys = _extra(results, "apikey_vs_jwt")
    if keys:
        rows.append(
            [
                "keys",
                f"project list p50, API key ({keys['requests_each']} requests each)",
                f"{_fmt(keys['key_p50_ms'], 3)} ms",
                f"JWT {_fmt(keys['jwt_p50_ms'], 3)} ms",
                f"{keys['ratio']:.3f}x",
            ]
        )
        rows.append(
            [
                "keys",
                "webhook fan-out statement, org without endpoints, p50",
                f"{_fmt(keys['fan_out_p50_ms'], 3)} ms",
                "",
                "",
            ]
        )
    quota = _extra(results, "billing_quota")
    if quota:
        rows.append(
            [
                "billing",
                f"W3 create p50 with quota check ({quota['w3_requests_each']} each)",
                f"{_fmt(quota['w3_with_quota_ms'])} ms",
                f"without {_fmt(quota['w3_without_quota_ms'])} ms",
                f"{quota['w3_ratio']:.3f}x",
            ]
        )
        rows.append(
            [
                "billing",
                f"Stripe webhook events ({quota['webhook_events']})",
                f"{_fmt(quota['webhook_events_per_second'], 1)} events/s",
                "",
                "",
            ]
        )
    rt = _extra(results, "realtime")
    for kind, feed in (rt.get("feed") or {}).items():
        fan, mem = feed["fanout"], feed["memory"]
        rows.append(
            [
                "realtime",
                f"fan-out commit -> client p50 / p99, {mem['subscribers']:,} subscribers, {kind}",
                f"{fan['p50_ms']:.1f} / {fan['p99_ms']:.1f} ms",
                f"goal 50 / 250 ms; {fan['delivered']:,}/{fan['expected']:,} delivered",
                "",
            ]
        )
        rows.append(
            [
                "realtime",
                f"memory per idle subscriber; leaks (must be 0), {kind}",
                f"{mem['kb_per_subscriber']:.1f} KB; {sum(fan['leaks'].values())} leaks",
                "goal 50 KB",
                "",
            ]
        )
    if rt.get("w1_idle"):
        w1 = rt["w1_idle"]
        rows.append(
            [
                "realtime",
                "W1 p50 with 1,000 idle subscribers vs the feed idle (uvicorn)",
                f"{w1['with_p50_ms']:.2f} ms",
                f"idle {w1['without_p50_ms']:.2f} ms",
                _spread([r["ratio"] for r in w1["rounds"]], 3, "x"),
            ]
        )
    if extras.get("error"):
        rows.append(["", "extras not run", extras["error"], "", ""])
    for script in ("sites_public", "apikey_vs_jwt", "billing_quota", "realtime"):
        error = (extras.get(script) or {}).get("error")
        if error:
            rows.append(["", f"bench/{script}.py FAILED", error, "", ""])
    return rows


def targets_table(targets: list[Target]) -> list[list[str]]:
    rows = [["target", "measured", "rounds min-max", "limit", "result", "margin"]]
    rows += [[t.name, t.measured, t.spread, t.limit, t.verdict, t.margin] for t in targets]
    return rows


def _spread(values: list[float], digits: int = 2, suffix: str = "") -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.{digits}f}{suffix} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def servers_table(results: dict[str, Any]) -> list[list[str]]:
    """The candidate servers side by side: the platform and the floor on each, W1's medians
    over the rounds (min-max), and the resident memory of a worker."""
    rows = [
        [
            "server",
            "W1 p50 platform ms",
            "W1 p50 floor ms",
            "p50 ratio",
            "W1 req/s platform c=4",
            "W1 req/s floor c=4",
            "req/s ratio",
            "W0 req/s c=4",
            "RSS/worker platform MB",
            "RSS/worker floor MB",
        ]
    ]
    for kind in results.get("meta", {}).get("servers", []):
        p50 = {s: series(results, "W1", s, 1, "p50_ms", kind) for s in ("app", "floor")}
        rps = {s: series(results, "W1", s, 4, "rps", kind) for s in ("app", "floor")}
        if not any(p50.values()) and not any(rps.values()):
            continue
        ping = list(series(results, "W0", "floor", 4, "rps", kind).values())
        mem = {
            m["server"]: m
            for m in results.get("memory", [])
            if m["kind"] == kind and m["rss_mb_median"] is not None
        }
        rows.append(
            [
                KIND_LABELS.get(kind, kind) + (" (judged)" if kind == judged(results) else ""),
                _spread(list(p50["app"].values())),
                _spread(list(p50["floor"].values())),
                _spread(ratios(p50["app"], p50["floor"]), 3, "x"),
                _spread(list(rps["app"].values()), 0),
                _spread(list(rps["floor"].values()), 0),
                _spread(ratios(rps["app"], rps["floor"]), 3, "x"),
                _spread(ping, 0),
                *[
                    f"{mem[s]['rss_mb_median']:.0f} (max {mem[s]['rss_mb_max']:.0f},"
                    f" {mem[s]['workers']} workers)"
                    if s in mem
                    else "-"
                    for s in ("app", "floor")
                ],
            ]
        )
    return rows


def noise_lines(results: dict[str, Any]) -> list[str]:
    """What the machine was doing: the load before and after, and whether it was too busy
    for the timings to be judged."""
    noise = results.get("noise")
    if not noise:
        return []
    lines = [
        f"Load: 1-min load average {noise['load_before']:.2f} before the web runs,"
        f" {noise['load_after']:.2f} after them; CPUs {noise['cpu_busy_before']:.0%} busy with"
        " other work before the start ("
        + ", ".join(
            f"{KIND_LABELS.get(k, k)} {v[0]:.2f} -> {v[1]:.2f}"
            for k, v in noise.get("load_per_server", {}).items()
        )
        + ")."
    ]
    if noise["too_busy"]:
        lines.append(
            "**The machine was too busy to judge** ("
            + "; ".join(noise["reasons"])
            + "): the ratios are shown, but re-run on a quiet machine before trusting a"
            " verdict."
        )
    return lines


def plans_table(results: dict[str, Any]) -> list[list[str]]:
    rows = [["db", "query", "index (condition)", "exec ms", "result"]]
    for db, plans in results.get("plans", {}).items():
        for name, p in plans.items():
            cond = f"{p.get('index')} ({p.get('index_cond')})" if p.get("index") else "-"
            result = "ok" if p["ok"] else "FAIL: " + "; ".join(p["problems"])
            rows.append([db, name, cond, _fmt(p.get("execution_ms") or 0.0, 3), result])
    return rows


def console(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c) for c in rows[0]) + " |"]
    lines.append("|" + "|".join("---" for _ in rows[0]) + "|")
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def machine_lines(meta: dict[str, Any]) -> list[str]:
    return [
        f"- date: {meta['started']} (commit {meta['commit']})",
        f"- machine: {meta['cores']} cores ({meta['cpu']}), {meta['memory_gb']:.1f} GB memory,"
        f" Linux {meta['kernel']}",
        f"- PostgreSQL: {meta['postgres']} (shared_buffers {meta['shared_buffers']})",
        f"- Python {meta['python']}, Django {meta['django']}, gunicorn {meta['gunicorn']},"
        f" granian {meta.get('granian', '-')}, psycopg {meta['psycopg']}; {meta['workers']}"
        f" workers per server ({meta.get('threads', 1)} threads each when threaded); targets"
        f" judged on {KIND_LABELS.get(judged({'meta': meta}), '?')}",
        f"- data: {meta['datasets']}",
        f"- load: {meta['load']}",
        f"- background: {meta['background']}",
        f"- wall time: {meta['wall_seconds'] / 60:.1f} min ({meta['timings']})",
    ]


def render_markdown(results: dict[str, Any], targets: list[Target], chart: str) -> str:
    meta = results["meta"]
    parts = [
        f"# Benchmark results {meta['date']}",
        "",
        "Produced by `make bench` (`bench/run.py`); method and baselines: `docs/performance.md`.",
        "",
        *machine_lines(meta),
        "",
        "## Targets",
        "",
        *[line + "\n" for line in noise_lines(results)],
        "Web targets: the median of the per-round ratios (each round measures the servers"
        " compared within the same seconds); a target whose rounds' min-max crosses its"
        ' limit is "within noise", not PASS or FAIL.',
        "",
        markdown(targets_table(targets)),
        "",
        "## Candidate servers",
        "",
        "W1 on each server: medians over the rounds (min-max); resident memory of a worker"
        " after the rounds.",
        "",
        markdown(servers_table(results)),
        "",
        "## Web workloads",
        "",
        "Latencies are client-side (connect + request + full response) on 127.0.0.1;"
        " `unexpected` counts responses whose status was not the workload's expected one"
        " (W4: every non-404 is a leak); `stmts/req` are SQL statements of one request"
        " without BEGIN/COMMIT, counted in-process with `CaptureQueriesContext`.",
        "",
        markdown(web_table(results)),
        "",
        *_answers_lines(results),
        *([f"![latency and throughput]({chart})", ""] if chart else []),
        "## Operations",
        "",
        markdown(ops_table(results)),
        "",
        "W6 per table (seed: the command's own per-table time, generating the rows in Python"
        " and streaming them through COPY; COPY: the same rows into the empty clone):",
        "",
        markdown(w6_tables(results)),
        "",
        *_extras_lines(results),
        "## Plans (P)",
        "",
        markdown(plans_table(results)),
        "",
        "## Queries of one request (bench_large)",
        "",
    ]
    for case, q in results["queries"].get("bench_large", {}).items():
        parts += [
            f"<details><summary>{case}: {statements(q)} statements,"
            f" {len(q['sql'])} round trips (HTTP {q['status']})</summary>",
            "",
            "```sql",
            *[_shorten(s) for s in q["sql"]],
            "```",
            "</details>",
            "",
        ]
    if results.get("profile"):
        parts += [
            "## Profile",
            "",
            f"W1 in-process, pyinstrument: `{results['profile']}`.",
            "",
        ]
    return "\n".join(parts)


def _extras_lines(results: dict[str, Any]) -> list[str]:
    extras = results.get("extras")
    if not extras:
        return []
    return [
        "## Side benchmarks (development database)",
        "",
        "`bench/sites_public.py` (W8, W9: `config.wsgi` and a same-run floor on"
        " single-threaded `wsgiref` servers, requests alternating at 1 client, each alone"
        " at 2 clients), `bench/apikey_vs_jwt.py` and `bench/billing_quota.py`"
        " (in-process, Django's test client), on the seeded development database after"
        " `manage.py db_setup` and `seed`"
        + (f"; {extras['background']}." if extras.get("background") else "."),
        "",
        markdown(extras_table(results)),
        "",
    ]


def _answers_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, check in (results.get("same_answers") or {}).items():
        same_servers = [
            s
            for s in check["same_as_platform"]
            if not (s == "bypass" and check["bypass_extra_ids"])
        ]
        same = ", ".join(same_servers) or "none"
        line = f"- {name}: same objects as the platform: {same}"
        if check["different"]:
            line += f"; DIFFERENT: {', '.join(check['different'])}"
        if check["bypass_extra_ids"]:
            line += (
                f"; (b) also returns {len(check['bypass_extra_ids'])} private project(s) RLS"
                " hides from the member (project visibility is enforced by RLS only)"
            )
        lines.append(line)
    return [*lines, ""] if lines else []


def _shorten(sql: str, limit: int = 1200) -> str:
    return sql if len(sql) <= limit else sql[:limit] + " ..."


# --- chart ---------------------------------------------------------------


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = [s for s in SERVER_LABELS if any(r["server"] == s for r in results["web"])]
    colors = {
        "app": "#3b6ea8",
        "bypass": "#9bbbe0",
        "floor": "#5aa469",
        "app_small": "#e0a458",
        "floor_small": "#f2d096",
    }
    workloads = ["W0", "W1", "W2", "W3", "W4"]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    width = 0.8 / max(1, len(servers))
    for ax, (metric, c, label) in zip(
        axes[0],
        [
            ("p50_ms", 1, "latency at 1 client (ms): bar p50, whisker p95"),
            ("rps", 4, "throughput at 4 clients (req/s, log scale)"),
        ],
        strict=True,
    ):
        for i, server in enumerate(servers):
            xs, ys, tops = [], [], []
            for j, w in enumerate(workloads):
                row = web_row(results, w, server, c)
                if row:
                    xs.append(j + (i - (len(servers) - 1) / 2) * width)
                    ys.append(row[metric])
                    tops.append(row["p95_ms"] - row["p50_ms"] if metric == "p50_ms" else 0)
            if xs:
                ax.bar(
                    xs,
                    ys,
                    width,
                    label=SERVER_LABELS[server],
                    color=colors[server],
                    yerr=[[0] * len(tops), tops] if metric == "p50_ms" else None,
                    capsize=2,
                )
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(["W0 ping", "W1 list", "W2 detail", "W3 create", "W4 probe"])
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][1].set_yscale("log")  # W0 answers 10-50x faster than anything with a database
    axes[0][1].set_ylim(bottom=10)
    if results["web"]:
        axes[0][0].legend(fontsize=8, loc="upper right")
    w6, w7 = results.get("w6"), results.get("w7")
    ax = axes[1][0]
    if w6:
        ax.bar(
            ["seed --scale", "plain COPY"],
            [w6["seed_rps"], w6["copy_rps"]],
            color=[colors["app"], colors["floor"]],
        )
        ax.set_title(f"W6 load rate (rows/s, {w6['rows']:,} rows)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax = axes[1][1]
    if w7 and w7.get("available"):
        ax.bar(
            [-0.18, 0.82],
            [w7["backup_seconds"], w7["restore_seconds"]],
            0.35,
            label="manage.py backup / restore",
            color=colors["app"],
        )
        ax.bar(
            [0.18, 1.18],
            [w7["bare_dump_seconds"], w7["bare_restore_seconds"]],
            0.35,
            label="bare pg_dump / pg_restore",
            color=colors["floor"],
        )
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["backup", "restore"])
        ax.legend(fontsize=8)
        ax.set_title(f"W7 seconds ({w7['database']})", fontsize=10)
    else:
        ax.set_title("W7: not available", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    meta = results["meta"]
    fig.suptitle(
        f"make bench {meta['date']} - {meta['cores']} cores, {meta['memory_gb']:.0f} GB,"
        f" {meta['postgres'].split(' on ')[0]}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --- files ---------------------------------------------------------------


def write(
    results: dict[str, Any],
    targets: list[Target],
    out_dir: Path = RESULTS_DIR,
    *,
    chart_too: bool = True,
) -> Path:
    """Write ``<date>.md`` (and ``.png``), ``latest.md`` and ``latest.json``; return the md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    date = results["meta"]["date"]
    png = out_dir / f"{date}.png"
    if chart_too:
        chart(results, png)
    md = out_dir / f"{date}.md"
    md.write_text(render_markdown(results, targets, png.name if chart_too else "") + "\n")
    shutil.copyfile(md, out_dir / "latest.md")
    payload = results | {"targets": [asdict(t) | {"verdict": t.verdict} for t in targets]}
    (out_dir / "latest.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return md
