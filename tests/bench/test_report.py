"""The benchmark judges its targets on the median of interleaved rounds and says when
the spread of the rounds is as large as the distance to the limit (issue 21). These
tests hold the judging logic on hand-made figures: no timing is measured here."""

from __future__ import annotations

from bench import report, server
from bench.run import judge_noise


def _round(kind: str, workload: str, name: str, c: int, r: int, value: float) -> dict:
    metric = "p50_ms" if c == 1 else "rps"
    other = "rps" if c == 1 else "p50_ms"
    return {
        "kind": kind,
        "workload": workload,
        "server": name,
        "c": c,
        "round": r,
        "requests": 100,
        metric: value,
        other: 1.0,
    }


def _results(app_p50: list[float], floor_p50: list[float], kind: str = "sync") -> dict:
    rounds = [_round(kind, "W1", "app", 1, r, v) for r, v in enumerate(app_p50)]
    rounds += [_round(kind, "W1", "floor", 1, r, v) for r, v in enumerate(floor_p50)]
    return {
        "meta": {"server": "sync", "servers": ["sync", "gthread"], "partial": True},
        "web": [],
        "rounds": rounds,
        "queries": {},
    }


def _target(results: dict, prefix: str) -> report.Target:
    return next(t for t in report.evaluate(results) if t.name.startswith(prefix))


def test_a_target_passes_on_the_median_of_its_rounds():
    # ratios 1.5, 1.6, 1.7, 1.6, 1.5: all under 1.75
    t = _target(_results([15, 16, 17, 16, 15], [10] * 5), "Framework W1: p50")
    assert (t.verdict, t.ok, t.noise) == ("PASS", True, False)
    assert t.measured.startswith("1.600x median of 5 rounds")
    assert t.spread == "1.500-1.700x"


def test_a_spread_that_crosses_the_limit_is_within_noise_not_pass_or_fail():
    # median 1.7 passes, but one round is at 1.9: the noise is as large as the margin
    t = _target(_results([16, 17, 19, 17, 16], [10] * 5), "Framework W1: p50")
    assert t.ok is True
    assert t.verdict == "within noise"
    # and the same with a median that misses
    t = _target(_results([18, 19, 17, 19, 18], [10] * 5), "Framework W1: p50")
    assert (t.ok, t.verdict) == (False, "within noise")


def test_a_target_fails_when_every_round_misses():
    t = _target(_results([20, 21, 22, 21, 20], [10] * 5), "Framework W1: p50")
    assert (t.verdict, t.ok) == ("FAIL", False)


def test_targets_are_judged_on_the_chosen_server_only():
    results = _results([15] * 5, [10] * 5)  # sync: 1.5x
    results["rounds"] += _results([30] * 5, [10] * 5, kind="gthread")["rounds"]  # 3x
    assert _target(results, "Framework W1: p50").verdict == "PASS"
    results["meta"]["server"] = "gthread"
    assert _target(results, "Framework W1: p50").verdict == "FAIL"


def test_a_partial_run_leaves_out_what_it_did_not_measure():
    names = [t.name for t in report.evaluate(_results([15] * 5, [10] * 5))]
    assert not any(n.startswith(("W6", "W7", "RLS cost W2")) for n in names)


def test_the_servers_table_shows_each_candidate_with_its_spread_and_memory():
    results = _results([15, 16, 17, 16, 15], [10] * 5)
    results["rounds"] += _results([12] * 5, [10] * 5, kind="gthread")["rounds"]
    results["memory"] = [
        {"kind": "sync", "server": "app", "workers": 4, "rss_mb_median": 99.0, "rss_mb_max": 101.0}
    ]
    rows = report.servers_table(results)
    assert [r[0] for r in rows[1:]] == ["gunicorn sync (judged)", "gunicorn gthread"]
    assert rows[1][3] == "1.600x (1.500-1.700)"
    assert rows[1][8] == "99 (max 101, 4 workers)"
    assert rows[2][3] == "1.200x (1.200-1.200)"


def test_the_site_targets_use_the_rounds_of_the_side_benchmark():
    results = _results([15] * 5, [10] * 5)
    results["meta"]["partial"] = False
    results["extras"] = {
        "sites_public": {
            "w8": {"p50_ms": {"app": 2.0, "floor": 1.0}, "p50_ratios": [1.4, 1.45, 1.6]},
            "w9": {"p50_ms": {"app": 2.0, "floor": 1.0}, "p50_ratios": [2.1, 2.2, 2.3]},
        }
    }
    w8 = _target(results, "Sites W8")
    w9 = _target(results, "Sites W9")
    assert (w8.limit, w8.verdict) == ("<= 1.5x", "within noise")
    assert (w9.limit, w9.verdict) == ("<= 2x", "FAIL")


def test_a_machine_too_busy_to_judge_is_said_so():
    assert judge_noise(0.05, 0.8, 2) == {"too_busy": False, "reasons": []}
    busy = judge_noise(0.05, 2.5, 2)
    assert busy["too_busy"] and "2.5 > 2 cores" in busy["reasons"][0]
    assert judge_noise(0.9, 0.5, 2)["too_busy"]
    results = _results([15] * 5, [10] * 5)
    results["noise"] = busy | {
        "cpu_busy_before": 0.05,
        "load_before": 2.5,
        "load_after": 3.0,
        "load_per_server": {"sync": [2.5, 3.0]},
    }
    assert any("too busy to judge" in line for line in report.noise_lines(results))


def test_each_candidate_server_serves_the_same_app_on_the_loopback():
    sync = server.command("sync", "config.wsgi", 8001, 4)
    gthread = server.command("gthread", "config.wsgi", 8001, 4)
    granian = server.command("granian", "config.wsgi", 8001, 4)
    assert "--worker-class=sync" in sync and not any(a.startswith("--threads") for a in sync)
    assert "--worker-class=gthread" in gthread and f"--threads={server.THREADS}" in gthread
    assert granian[1] == "config.wsgi:application" and "--interface=wsgi" in granian
    for cmd in (sync, gthread, granian):
        assert any("127.0.0.1" in a for a in cmd) and "--workers=4" in cmd
