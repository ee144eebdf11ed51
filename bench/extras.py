"""``make bench``'s ``extras`` step: the side benchmarks, on the development database.

Three standalone scripts, each run here as a subprocess after ``manage.py db_setup``
and ``manage.py seed`` (both idempotent; about a second each once done) have made
sure the development database is migrated and holds the demo data:

* ``bench/sites_public.py`` - W8, the live page, and W9, the page list API, each
  against its same-run floor on ``wsgiref`` servers (prints JSON; exits 1 when W8
  misses its target, which is reported, not a failure here);
* ``bench/apikey_vs_jwt.py --json`` - the project list with an API key vs a JWT, and
  the webhook fan-out statement (in-process);
* ``bench/billing_quota.py`` - W3 with and without the quota check, and webhook
  events/s (in-process, prints JSON);
* ``bench/realtime.py --json`` - the live feed (issue 19): 1,000 SSE subscribers on one
  process, fan-out latency, memory per subscriber, W1 with the feed idle vs subscribed,
  the leak probe; on ``bench_small``, which it builds when missing (about 6 minutes;
  ``--skip realtime`` leaves it out; exits 1 on a leak, which is reported here).

The scripts get the caller's environment (the development settings, as when they are
run by hand); their stderr (a log line per request) is shown only when one fails: it
is reported with the tail of its stderr, and the others still run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]


def _log(message: str) -> None:
    print(message, flush=True)


def setup_database() -> dict[str, float]:
    """Migrate and seed the development database; the seconds each took."""
    seconds = {}
    for command in ("db_setup", "seed"):
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603 - fixed argument list
            [*MANAGE, command],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise RuntimeError(f"manage.py {command} failed (exit {done.returncode})")
        seconds[command] = round(time.perf_counter() - started, 1)
    return seconds


def _json_output(stdout: str) -> Any:
    """The JSON document a script printed (the whole of stdout, or from the last line
    that opens one, should anything be printed before it)."""
    try:
        return json.loads(stdout)
    except ValueError:
        lines = stdout.splitlines()
        for i in range(len(lines) - 1, -1, -1):
            if lines[i] in ("{", "["):
                return json.loads("\n".join(lines[i:]))
        raise


def run_script(name: str, args: list[str], *, ok_codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """Run ``bench/<name>.py args``; its JSON figures, or an ``error``."""
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - fixed argument list
        [sys.executable, str(BASE_DIR / "bench" / f"{name}.py"), *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = round(time.perf_counter() - started, 1)
    figures: Any = None
    if done.returncode in ok_codes:
        try:
            figures = _json_output(done.stdout)
        except ValueError:
            figures = None
    if figures is None:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        _log(f"   {name}: FAILED (exit {done.returncode}, {seconds} s)\n{tail}")
        return {"error": f"exit {done.returncode}: {tail.splitlines()[-1] if tail else ''}"}
    _log(f"   {name}: {seconds} s")
    return {"figures": figures, "seconds": seconds, "exit": done.returncode}


def run(*, seconds: float, rounds: int = 5, realtime: bool = True) -> dict[str, Any]:
    """Every side benchmark; ``seconds`` is ``sites_public.py --seconds`` (per workload,
    spread over ``rounds`` interleaved rounds: in each, alternating at 1 client, then
    each server alone at 2 clients)."""
    load_before = os.getloadavg()[0]
    try:
        result: dict[str, Any] = {"setup_seconds": setup_database()}
    except RuntimeError as exc:  # reported; the rest of make bench's results still stand
        _log(f"   extras not run: {exc}")
        return {"error": str(exc)}
    _log(
        "   development database migrated and seeded ("
        + ", ".join(f"{k} {v:g} s" for k, v in result["setup_seconds"].items())
        + ")"
    )
    # sites_public.py exits 1 when W8 misses its target: still figures to report.
    sites = run_script(
        "sites_public", [f"--seconds={seconds:g}", f"--rounds={rounds}"], ok_codes=(0, 1)
    )
    if "figures" in sites:
        by_id = {item["workload"].split()[0]: item for item in sites.pop("figures")}
        sites |= {"w8": by_id.get("W8"), "w9": by_id.get("W9")}
    result["sites_public"] = sites
    result["apikey_vs_jwt"] = run_script("apikey_vs_jwt", ["--json"])
    result["billing_quota"] = run_script("billing_quota", [])
    if realtime:
        result["realtime"] = run_script("realtime", ["--json"], ok_codes=(0, 1))
    result["background"] = (
        f"1-min load average {load_before:.1f} before the side benchmarks,"
        f" {os.getloadavg()[0]:.1f} after them"
    )
    return result
