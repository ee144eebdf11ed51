"""``make bench-realtime``: the live feed (issue 19, "Measured"), figures and ratios from one run.

    .venv/bin/python bench/realtime.py            # the whole measurement (~5 min on 2 cores)
    .venv/bin/python bench/realtime.py --quick    # 200 subscribers, short rounds: < 2 min
    .venv/bin/python bench/realtime.py --help

Data: ``bench_small`` (10 organizations x 100 members, ~10 private projects each with two
project members; built or reused as ``make bench`` does, ``bench/data.py``). A Django
process (``prepare``) picks 25 people per organization - owners and admins, billing
members, viewers, members of one private project and members who are not - and mints a
session and JWT for each. Every server runs ``DJANGO_ENV=production`` as
``bench/run.py`` runs its servers (``production_env``), with the stream limits raised
(``REALTIME_MAX_STREAMS_PER_ORG``/``PER_USER``), one process each, on 127.0.0.1.

Subscribers: ``--subscribers`` (1,000) streams, spread evenly over the 10 organizations
(4 streams per person, as a person with a few tabs), held by one client process
(``bench/rtclient.py``: raw asyncio connections, uvloop). The last organization gets no
events: its streams are the "another organization" probe.

Steps, in one run:

1. memory   - the feed server (``python -m uvicorn config.asgi:application --workers 1``)
              after a warm-up (API requests, a few streams opened and closed: the hub
              listening), idle; then with every subscriber attached and idle: VmRSS
              difference / subscribers = KB per idle subscriber;
2. W1 idle  - two identical uvicorn feed servers; the subscribers are attached to one of
              them, and W1 (``bench/workloads.py``) alternates request by request between
              the two at 1 client (``bench/loadgen.py``). The subscribers move to the other
              server every round, so a difference between the two processes cancels out;
              ratio = p50 with subscribers / p50 without, median of the rounds (min-max);
3. fan-out  - a writer process (``write``: Django, the app role, ``enter_org`` +
              ``audit_record`` in one transaction per event, the way a service writes)
              commits ``--rate`` (100) events/s for ``--seconds`` into 9 organizations
              (8 of 10 on an org-visible project, 1 on a private project, 1 billing
              event) and records the wall-clock time each commit returned. Latency = the
              client's read time - that commit time, for every delivery; delivered vs
              expected (expected: the bench's own rule, not ``realtime.visibility``);
4. leaks    - under that load: events reaching the quiet organization's streams or any
              stream not matching what was written in its organization at that id,
              private-project events reaching org members who are neither project
              members nor owners/admins, billing events reaching viewers and members;
5. API      - W1 on the ASGI app (uvicorn, idle feed) vs ``gunicorn config.wsgi`` (sync,
              1 worker) vs granian ASGI (1 worker): p50 alternating at 1 client, req/s of
              each alone at 1 and 4 clients, in interleaved rounds;
6. granian  - steps 1, 3 and 4 again with ``granian --interface asgi`` as the feed server.

Results: printed, and written to ``bench/results/realtime-<date>.md`` (a ``--quick`` run
writes ``.data/bench/results/`` instead); ``--json`` prints the figures as JSON last.
``python bench/realtime.py prepare|write ...`` are the Django processes the run starts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from bench import data, loadgen, report, workloads  # noqa: E402
from bench.rtclient import Client, Spec  # noqa: E402
from bench.server import GRANIAN, KIND_LABELS, Server  # noqa: E402

WORK = BASE_DIR / ".data" / "bench"
AGENT = "bench/realtime.py"
EVENTS_PATH = "/api/v1/orgs/{}/events/"
STREAM_LIMITS = {"REALTIME_MAX_STREAMS_PER_ORG": "100000", "REALTIME_MAX_STREAMS_PER_USER": "1000"}
# The writer's mix, by event number modulo 10.
KIND_OF = ["public"] * 10
KIND_OF[3], KIND_OF[7] = "private", "billing"
ACTIONS = {
    "public": ("chat_message.created", "projects.chatmessage"),
    "private": ("chat_message.created", "projects.chatmessage"),
    "billing": ("billing.stripe_event_applied", "billing.subscription"),
}
SEES_PRIVATE = {"owner", "admin"}
SEES_BILLING = {"owner", "admin", "billing"}
# config.asgi with the loop-lag and GC probe (off unless the fan-out switches it on).
PROBED_APP = "bench.asgi_probe:application"
STALL_MS = 20.0
FULL = {"subscribers": 1000, "seconds": 30.0, "rounds": 5, "w1_seconds": 2.0}
FULL |= {"round_seconds": 1.0, "settle": 2.0}
QUICK = {"subscribers": 200, "seconds": 4.0, "rounds": 2, "w1_seconds": 0.5}
QUICK |= {"round_seconds": 0.5, "settle": 1.0}
GOALS = {"p50_ms": 50.0, "p99_ms": 250.0, "kb_per_subscriber": 50.0, "w1_ratio": 1.02}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- prepare (a Django process on the bench database) ---------------------------------------


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _choose(members: list[tuple[str, str]], project_members: set[str], count: int) -> list[str]:
    """``count`` people with every persona the leak probe needs: owners/admins, billing
    members, viewers, non-admin members of the private project, members who are not."""
    by: dict[str, list[str]] = defaultdict(list)
    for user_id, role in members:
        if user_id in project_members and role not in SEES_PRIVATE:
            by["project_member"].append(user_id)
        else:
            by[role].append(user_id)
    wanted = [("project_member", 2), ("owner", 2), ("admin", 2), ("billing", 3), ("viewer", 5)]
    chosen = [u for group, n in wanted for u in by[group][:n]]
    rest = [u for u, _ in members if u not in chosen and u not in project_members]
    return (chosen + rest)[:count]


def cmd_prepare(out: Path, orgs: int, people: int) -> None:
    from django.db import transaction

    from accounts.models import Session, User
    from accounts.tokens import token_pair
    from organizations.tenancy import service_context

    plan = []
    with service_context(reason="bench: realtime subscribers and their tokens"):
        Session.objects.filter(user_agent=AGENT).delete()
        for slug, org_id in _fetch(
            "SELECT slug, id::text FROM organizations_organization"
            " WHERE slug LIKE 'scale-%%' AND suspended_at IS NULL ORDER BY slug LIMIT %s",
            [orgs],
        ):
            members = _fetch(
                "SELECT m.user_id::text, m.role FROM organizations_membership m"
                " JOIN accounts_user u ON u.id = m.user_id AND u.is_active"
                " WHERE m.organization_id = %s ORDER BY m.created_at, m.id",
                [org_id],
            )
            public = _fetch(
                "SELECT id::text FROM projects_project WHERE organization_id = %s"
                " AND visibility = 'org' AND archived_at IS NULL ORDER BY created_at, id LIMIT 1",
                [org_id],
            )[0][0]
            private, project_members = _fetch(
                "SELECT p.id::text, array_agg(pm.user_id::text) FROM projects_project p"
                " JOIN projects_projectmember pm"
                "   ON pm.organization_id = p.organization_id AND pm.project_id = p.id"
                " WHERE p.organization_id = %s AND p.visibility = 'private'"
                "   AND p.archived_at IS NULL"
                " GROUP BY p.id ORDER BY p.id LIMIT 1",
                [org_id],
            )[0]
            roles = dict(members)
            chosen = _choose(members, set(project_members), people)
            plan.append(
                {
                    "slug": slug,
                    "id": org_id,
                    "owner": next(u for u, r in members if r == "owner"),
                    "public_project": public,
                    "private_project": private,
                    "people": [
                        {"id": u, "role": roles[u], "project_member": u in project_members}
                        for u in chosen
                    ],
                }
            )
        expires = datetime.now(UTC) + timedelta(days=1)
        with transaction.atomic():
            everyone = [p for org in plan for p in org["people"]]
            sessions = Session.objects.bulk_create(
                [Session(user_id=p["id"], user_agent=AGENT, expires_at=expires) for p in everyone]
            )
            users = {str(u.id): u for u in User.objects.filter(id__in=[p["id"] for p in everyone])}
            for person, session in zip(everyone, sessions, strict=True):
                session.user = users[person["id"]]
                person["token"] = token_pair(session)["access"]
    out.write_text(json.dumps({"orgs": plan}))


# --- write (a Django process: the events, at a fixed rate) -----------------------------------


def cmd_write(plan_path: Path, out: Path, rate: float, seconds: float) -> None:
    from django.db import connection, transaction

    from audit.services import audit_record
    from organizations.tenancy import enter_org

    plan = json.loads(plan_path.read_text())
    orgs = plan["writers"]
    records = []
    total = int(rate * seconds)
    start = time.time() + 0.5
    for i in range(total):
        due = start + i / rate
        if (wait := due - time.time()) > 0:
            time.sleep(wait)
        org = orgs[i % len(orgs)]
        kind = KIND_OF[(i // len(orgs)) % len(KIND_OF)]
        action, target_type = ACTIONS[kind]
        target_id = str(uuid.uuid4())
        project = org["private_project"] if kind == "private" else org["public_project"]
        changes = {"bench": i} | ({"project": project} if kind != "billing" else {})
        with transaction.atomic():
            enter_org(uuid.UUID(org["owner"]), org["slug"])
            event = audit_record(
                action=action,
                organization_id=uuid.UUID(org["id"]),
                target_type=target_type,
                target_id=target_id,
                changes=changes,
            )
            with connection.cursor() as cursor:
                cursor.execute("SELECT sequence FROM audit_auditevent WHERE id = %s", [event.id])
                sequence = cursor.fetchone()[0]
        records.append([org["id"], sequence, kind, action, target_id, time.time(), due])
    out.write_text(json.dumps({"records": records, "rate": rate, "seconds": seconds}))


# --- the run ----------------------------------------------------------------------------------


class Subscribers:
    """Who holds which stream: ``index`` -> organization, person, role."""

    def __init__(self, plan: dict[str, Any], count: int) -> None:
        self.specs: list[Spec] = []
        self.meta: dict[int, dict[str, Any]] = {}
        orgs = plan["orgs"]
        per_org = count // len(orgs)
        for o, org in enumerate(orgs):
            people = org["people"]
            for k in range(per_org):
                person = people[k % len(people)]
                index = o * per_org + k
                self.specs.append(Spec(index, EVENTS_PATH.format(org["slug"]), person["token"]))
                self.meta[index] = {
                    "org": org["id"],
                    "user": person["id"],
                    "role": person["role"],
                    "project_member": person["project_member"],
                }

    def __len__(self) -> int:
        return len(self.specs)


def _rss_kb(server: Server) -> int:
    total = 0
    for pid in server.serving_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:"))
    return total


def _settled_rss_kb(server: Server, seconds: float = 2.0) -> int:
    """VmRSS once the process has settled: the median of a few reads over ``seconds``."""
    reads = []
    for _ in range(5):
        time.sleep(seconds / 5)
        reads.append(_rss_kb(server))
    return int(statistics.median(reads))


def _attach(client: Client, server: Server, subs: Subscribers) -> dict[str, Any]:
    got = client.connect(server.port, subs.specs)
    if got["opened"] != len(subs):
        _log(
            f"   WARNING: {got['opened']}/{len(subs)} streams opened on {server.name}:"
            f" statuses {got['statuses']}, errors {got['errors']}"
        )
    return got


def _warm(server: Server, client: Client, subs: Subscribers, w1: workloads.Workload) -> None:
    """Django loaded, the API's code paths and the hub's connections in place."""
    loadgen.run(w1.requests, port=server.port, concurrency=2, seconds=1.0)
    client.connect(server.port, subs.specs[:: max(1, len(subs) // 20)])
    client.close()
    time.sleep(1.0)


def _cpu_share(server: Server, seconds: float) -> float:
    """Share of one core the server used over the next ``seconds``."""
    before = _cpu_seconds(server)
    time.sleep(seconds)
    return (_cpu_seconds(server) - before) / seconds


def memory_step(
    client: Client, server: Server, subs: Subscribers, idle_seconds: float
) -> dict[str, Any]:
    idle = _settled_rss_kb(server)
    before = _stats(server)
    cpu_idle = _cpu_share(server, idle_seconds)
    attached = _attach(client, server, subs)
    busy = _settled_rss_kb(server, 3.0)
    cpu_subscribed = _cpu_share(server, idle_seconds)
    per = (busy - idle) / max(1, attached["opened"])
    _log(
        f"   [{server.name}] RSS idle {idle / 1024:.1f} MB, with {attached['opened']} idle"
        f" subscribers {busy / 1024:.1f} MB: {per:.1f} KB each"
        f" (attached in {attached['seconds']:.1f} s); CPU idle {cpu_idle:.1%},"
        f" with the idle subscribers {cpu_subscribed:.1%} of one core"
    )
    return {
        "stats_idle": before,
        "stats_subscribed": _stats(server),
        "cpu_idle": round(cpu_idle, 4),
        "cpu_subscribed": round(cpu_subscribed, 4),
        "idle_kb": idle,
        "with_subscribers_kb": busy,
        "subscribers": attached["opened"],
        "kb_per_subscriber": round(per, 1),
        "attach_seconds": round(attached["seconds"], 2),
        "attach_statuses": attached["statuses"],
    }


def w1_step(
    client: Client,
    servers: tuple[Server, Server],
    subs: Subscribers,
    w1: workloads.Workload,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Round r: subscribers on ``servers[r % 2]``; W1 alternating between both at 1 client.
    The subscribers are already on ``servers[0]`` when this starts."""
    rounds = []
    for r in range(args.rounds):
        holder, other = servers[r % 2], servers[1 - r % 2]
        if r:
            client.close()
            _attach(client, holder, subs)
        time.sleep(args.settle)
        pair = [holder, other] if r % 2 == 0 else [other, holder]
        results = loadgen.run_streams(
            [loadgen.Stream.of(w1.requests, s.port) for s in pair],
            concurrency=1,
            seconds=args.w1_seconds * 2,
        )
        by = {s.name: res for s, res in zip(pair, results, strict=True)}
        with_subs, without = by[holder.name], by[other.name]
        bad = sum(n for st, n in (with_subs.statuses + without.statuses).items() if st != 200)
        rounds.append(
            {
                "holder": holder.name,
                "with_p50_ms": round(with_subs.percentile(50), 3),
                "without_p50_ms": round(without.percentile(50), 3),
                "requests": with_subs.count + without.count,
                "not_200": bad,
                "ratio": round(with_subs.percentile(50) / without.percentile(50), 4),
            }
        )
        _log(
            f"   W1 round {r + 1}/{args.rounds}: subscribers on {holder.name}:"
            f" {rounds[-1]['with_p50_ms']:.2f} ms vs {rounds[-1]['without_p50_ms']:.2f} ms"
            f" = {rounds[-1]['ratio']:.3f}x"
        )
    if servers[(args.rounds - 1) % 2] is not servers[0]:  # leave them on servers[0]
        client.close()
        _attach(client, servers[0], subs)
    ratios = [r["ratio"] for r in rounds]
    return {
        "rounds": rounds,
        "ratio_median": round(statistics.median(ratios), 4),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "with_p50_ms": round(statistics.median(r["with_p50_ms"] for r in rounds), 3),
        "without_p50_ms": round(statistics.median(r["without_p50_ms"] for r in rounds), 3),
    }


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def fanout_step(
    client: Client,
    server: Server,
    subs: Subscribers,
    plan: dict[str, Any],
    env: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    writers = plan["orgs"][:-1]  # the last organization gets no events: the quiet one
    plan_path = WORK / "realtime-writer-plan.json"
    out = WORK / "realtime-writer.json"
    plan_path.write_text(json.dumps({"writers": writers}))
    client.collect(reset=True)
    cpu_before = _cpu_seconds(server)
    client_before = _pid_cpu_seconds(client.process.pid)
    probe = "profile" if args.profile else "start"
    loadgen.fetch(loadgen.HttpRequest("GET", f"/__bench_probe__/{probe}"), server.port)
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - fixed argument list
        [
            sys.executable,
            str(Path(__file__)),
            "write",
            str(plan_path),
            str(out),
            f"--rate={args.rate:g}",
            f"--seconds={args.seconds:g}",
        ],
        env=env,
        cwd=BASE_DIR,
        check=True,
    )
    time.sleep(args.grace)
    wall = time.perf_counter() - started
    cpu = _cpu_seconds(server) - cpu_before
    client_cpu = _pid_cpu_seconds(client.process.pid) - client_before
    _, probed = loadgen.fetch(loadgen.HttpRequest("GET", "/__bench_probe__/stop"), server.port)
    got = client.collect(reset=True)
    written = json.loads(out.read_text())["records"]
    result = analyse(written, got, subs, quiet_org=plan["orgs"][-1]["id"])
    # Per event (commit time, first and last subscriber reached), for a closer look.
    per_event = result.pop("per_event")
    (WORK / f"realtime-events-{server.name}.json").write_text(json.dumps(per_event))
    probed = json.loads(probed)
    if probed.get("profile"):
        out_dir = WORK if args.quick else report.RESULTS_DIR
        path = out_dir / f"profile-realtime-{server.name}.txt"
        path.write_text(probed["profile"])
        _log(f"   [{server.name}] profile of the fan-out: {path.relative_to(BASE_DIR)}")
    result["loop"] = loop_figures(probed, per_event)
    lags = [r[5] - r[6] for r in written]
    span = written[-1][5] - written[0][5] if len(written) > 1 else 0
    result |= {
        "server": server.name,
        "written": len(written),
        "write_rate": round((len(written) - 1) / span, 1) if span else None,
        "writer_lag_p99_ms": round(_percentile(lags, 99) * 1000, 1),
        "server_cpu_share": round(cpu / wall, 3),
        "client_cpu_share": round(client_cpu / wall, 3),
        "heartbeats": got["heartbeats"],
        "streams_closed": dict(Counter(got["closed"].values())),
    }
    _log(f"   [{server.name}] event loop: {result['loop']}")
    _log(
        f"   [{server.name}] fan-out: {result['delivered']:,}/{result['expected']:,} delivered,"
        f" p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms,"
        f" max {result['max_ms']:.1f} ms; leaks {result['leaks']}; server CPU"
        f" {result['server_cpu_share']:.0%} of one core; writer {result['write_rate']}/s"
    )
    return result


def loop_figures(probed: dict[str, Any], per_event: list[list[float]]) -> dict[str, Any]:
    """The feed server's event loop during the fan-out (``bench/asgi_probe.py``): its lag,
    its stalls (a lag over ``STALL_MS``), the GC pauses inside them, and how many of the
    events that reached their first subscriber late (over ``STALL_MS``) were committed
    during, or just before, a stall (their fan-out had to wait for the loop)."""
    lags = [lag * 1000 for _, lag, _ in probed["lags"]]
    stalls = [(end, lag) for end, lag, _ in probed["lags"] if lag * 1000 > STALL_MS]
    on_cpu = sum(min(cpu, lag + 0.01) for _, lag, cpu in probed["lags"] if lag * 1000 > STALL_MS)
    pauses = probed["gc"]
    in_gc = 0.0
    for end, lag in stalls:
        begin = end - lag - 0.01
        in_gc += min(lag, sum(took for at, _, took in pauses if begin <= at <= end))
    late = [(at, first) for at, first, _ in per_event if first > STALL_MS]
    explained = sum(
        1 for at, first in late if any(end - lag - 0.2 <= at <= end for end, lag in stalls)
    )
    by_gen = Counter(gen for _, gen, _ in pauses)
    reads = probed.get("reads", [])
    read_ms = [took * 1000 for _, took, _, _ in reads]
    span = (reads[-1][0] - reads[0][0]) if len(reads) > 1 else 0
    hub = {
        "notifications": len(probed.get("notifies", [])),
        "reads": len(reads),
        "reads_empty": sum(1 for _, _, n, _ in reads if n == 0),
        "reads_per_s": round(len(reads) / span, 1) if span else None,
        "read_p50_ms": round(_percentile(read_ms, 50), 2),
        "read_p99_ms": round(_percentile(read_ms, 99), 2),
        "read_max_ms": round(max(read_ms), 1) if read_ms else None,
        "read_busy_share": round(sum(read_ms) / 1000 / span, 3) if span else None,
        "queue_p99": _percentile([q for _, _, _, q in reads], 99),
        "queue_max": max((q for _, _, _, q in reads), default=0),
    }
    return {
        "hub": hub,
        "lag_p50_ms": round(_percentile(lags, 50), 2),
        "lag_p99_ms": round(_percentile(lags, 99), 2),
        "lag_max_ms": round(max(lags), 1) if lags else None,
        "stalls": len(stalls),
        "stall_ms": round(sum(lag for _, lag in stalls) * 1000, 1),
        "stall_ms_in_gc": round(in_gc * 1000, 1),
        "stall_ms_loop_on_cpu": round(on_cpu * 1000, 1),
        "gc_pauses": {str(g): by_gen[g] for g in sorted(by_gen)},
        "gc_ms": round(sum(took for *_, took in pauses) * 1000, 1),
        "gc_max_ms": round(max((took for *_, took in pauses), default=0) * 1000, 1),
        "gen2_max_ms": round(max((took for _, g, took in pauses if g == 2), default=0) * 1000, 1),
        "late_events": len(late),
        "late_events_at_a_stall": explained,
    }


def _stats(server: Server) -> dict[str, Any]:
    _, body = loadgen.fetch(loadgen.HttpRequest("GET", "/__bench_probe__/stats"), server.port)
    return json.loads(body)


def _pid_cpu_seconds(pid: int | None) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _cpu_seconds(server: Server) -> float:
    return sum(_pid_cpu_seconds(pid) for pid in server.serving_pids())


def analyse(
    written: list[list[Any]], got: dict[str, Any], subs: Subscribers, quiet_org: str
) -> dict[str, Any]:
    """Deliveries against what was written. Every received event must be one written in
    the stream's organization at that id (else: another organization's, a leak); a private
    project's event may reach owners, admins and its project members only; a billing event
    owners, admins and billing members only. Expected: the same rule over every stream of
    the event's organization (all were open before the first write)."""
    by_id = {(r[0], r[1]): r for r in written}
    streams_of: dict[str, list[int]] = defaultdict(list)
    for index, meta in subs.meta.items():
        streams_of[meta["org"]].append(index)

    def allowed(kind: str, meta: dict[str, Any]) -> bool:
        if kind == "private":
            return meta["role"] in SEES_PRIVATE or meta["project_member"]
        if kind == "billing":
            return meta["role"] in SEES_BILLING
        return True

    expected = 0
    chances = Counter()
    for org, _seq, kind, *_ in written:
        for index in streams_of[org]:
            ok = allowed(kind, subs.meta[index])
            expected += ok
            if not ok:
                chances[kind] += 1
        chances["other_org"] += len(subs) - len(streams_of[org])
    leaks = Counter()
    latencies = []
    seen = set()
    duplicates = 0
    per_event: dict[tuple[str, int], list[float]] = {}
    for index, seq, action, at, target in got["events"]:
        meta = subs.meta[index]
        record = by_id.get((meta["org"], seq))
        if record is None or record[3] != action or record[4] != target or meta["org"] == quiet_org:
            leaks["other_org"] += 1
            continue
        if not allowed(record[2], meta):
            leaks[record[2]] += 1
            continue
        if (index, seq) in seen:
            duplicates += 1
            continue
        seen.add((index, seq))
        latency = (at - record[5]) * 1000
        latencies.append(latency)
        spread = per_event.setdefault((meta["org"], seq), [latency, latency])
        spread[0], spread[1] = min(spread[0], latency), max(spread[1], latency)
    return {
        "expected": expected,
        "delivered": len(latencies),
        "duplicates": duplicates,
        "p50_ms": round(_percentile(latencies, 50), 2),
        "p90_ms": round(_percentile(latencies, 90), 2),
        "p99_ms": round(_percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else float("nan"),
        # Per event: its first subscriber reached, and its last (the fan-out's own spread).
        "first_p50_ms": round(_percentile([v[0] for v in per_event.values()], 50), 2),
        "first_p99_ms": round(_percentile([v[0] for v in per_event.values()], 99), 2),
        "last_p50_ms": round(_percentile([v[1] for v in per_event.values()], 50), 2),
        "last_p99_ms": round(_percentile([v[1] for v in per_event.values()], 99), 2),
        "per_event": [
            [by_id[key][5], *spread]
            for key, spread in sorted(per_event.items(), key=lambda x: x[0][1])
        ],
        "leaks": {
            "other_org": leaks["other_org"],
            "private_non_members": leaks["private"],
            "billing_to_others": leaks["billing"],
        },
        "chances": {
            "other_org": chances["other_org"],
            "private_non_members": chances["private"],
            "billing_to_others": chances["billing"],
        },
    }


def recheck_probe(url: str, plan: dict[str, Any], subs: Subscribers, runs: int) -> dict[str, Any]:
    """What the hub's periodic access check (``app.realtime_access``, every
    ``REALTIME_RECHECK_SECONDS`` for every open stream) costs with these subscribers:
    the statement's time, as the hub runs it (app role, autocommit), median of ``runs``."""
    import base64

    import psycopg

    def sid(token: str) -> str:
        body = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["sid"]

    tokens = {p["id"]: p["token"] for o in plan["orgs"] for p in o["people"]}
    payload = json.dumps(
        [
            {
                "stream": uuid.uuid4().hex,
                "org": m["org"],
                "user_id": m["user"],
                "session": sid(tokens[m["user"]]),
                "api_key": None,
                "projects": [],
            }
            for m in subs.meta.values()
        ]
    )
    times = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            rows = conn.execute(
                "SELECT stream, role, suspended, lost_projects FROM app.realtime_access(%s)",
                [payload],
            ).fetchall()
            times.append((time.perf_counter() - t0) * 1000)
        # The hub's read after a notification: the events of one organization after the
        # last one read (here: the last event), for the members it serves (up to 50).
        org = plan["orgs"][0]
        members = [m["user"] for m in subs.meta.values() if m["org"] == org["id"]]
        members = list(dict.fromkeys(members))[:50]
        head = conn.execute("SELECT app.realtime_head(%s, %s)", [org["id"], members[:1]])
        after = head.fetchone()[0] - 1
        reads = []
        for _ in range(runs * 4 + 1):
            t0 = time.perf_counter()
            conn.execute(
                "SELECT * FROM app.realtime_events(%s, %s, %s, %s)",
                [org["id"], members, after, 500],
            ).fetchall()
            reads.append((time.perf_counter() - t0) * 1000)
    return {
        "events_read_ms_median": round(statistics.median(reads[1:]), 2),
        "events_read_ms_max": round(max(reads[1:]), 2),
        "streams": len(subs),
        "rows": len(rows),
        "ms_median": round(statistics.median(times[1:]), 2),
        "ms_max": round(max(times[1:]), 2),
    }


def api_step(
    servers: list[Server], w1: workloads.Workload, args: argparse.Namespace
) -> dict[str, Any]:
    """W1 on each server: p50 alternating at 1 client, then each alone at 1 and 4 clients
    (req/s), in interleaved rounds (reverse order every other round)."""
    per: dict[str, dict[str, list[float]]] = {
        s.name: {"p50": [], "rps1": [], "rps4": []} for s in servers
    }
    ratios: dict[str, list[float]] = {s.name: [] for s in servers[1:]}
    for r in range(args.rounds):
        order = servers if r % 2 == 0 else list(reversed(servers))
        results = loadgen.run_streams(
            [loadgen.Stream.of(w1.requests, s.port) for s in order],
            concurrency=1,
            seconds=args.w1_seconds * len(order),
        )
        p50 = {s.name: res.percentile(50) for s, res in zip(order, results, strict=True)}
        for s in order:
            per[s.name]["p50"].append(p50[s.name])
            for c, key in ((1, "rps1"), (4, "rps4")):
                alone = loadgen.run(
                    w1.requests, port=s.port, concurrency=c, seconds=args.round_seconds
                )
                per[s.name][key].append(alone.rps)
        base = p50[servers[0].name]
        for s in servers[1:]:
            ratios[s.name].append(p50[s.name] / base)
        _log(
            f"   API round {r + 1}/{args.rounds}: "
            + ", ".join(
                f"{s.name} p50 {per[s.name]['p50'][-1]:.2f} ms,"
                f" {per[s.name]['rps1'][-1]:.0f}/{per[s.name]['rps4'][-1]:.0f} req/s"
                for s in servers
            )
        )
    return {
        "base": servers[0].name,
        "servers": {
            name: {k: [round(v, 3) for v in vals] for k, vals in figures.items()}
            for name, figures in per.items()
        },
        "p50_ratio_to_base": {k: [round(v, 4) for v in vals] for k, vals in ratios.items()},
    }


# --- report ---------------------------------------------------------------------------------


def _med(values: list[float], digits: int = 2) -> str:
    return report._spread(values, digits)


def _goal(ok: bool | None) -> str:
    return "-" if ok is None else ("pass" if ok else "FAIL")


def tables(results: dict[str, Any]) -> list[tuple[str, list[list[str]]]]:
    out = []
    feed = [["measurement", *[KIND_LABELS[k] for k in results["feed"]], "goal"]]
    kinds = list(results["feed"])
    first = results["feed"][kinds[0]]

    def row(title: str, fmt: Any, goal: str = "", judge: Any = None) -> None:
        cells = [fmt(results["feed"][k]) for k in kinds]
        verdict = ""
        if judge is not None:
            verdict = f"{goal}: {_goal(judge(first))}"
        feed.append([title, *cells, verdict or goal])

    n = first["memory"]["subscribers"]
    row(
        "fan-out latency p50, commit -> client",
        lambda f: f"{f['fanout']['p50_ms']:.1f} ms",
        "<= 50 ms",
        lambda f: f["fanout"]["p50_ms"] <= GOALS["p50_ms"],
    )
    row(
        "fan-out latency p99",
        lambda f: f"{f['fanout']['p99_ms']:.1f} ms (max {f['fanout']['max_ms']:.0f})",
        "<= 250 ms",
        lambda f: f["fanout"]["p99_ms"] <= GOALS["p99_ms"],
    )
    row(
        "events delivered / expected",
        lambda f: f"{f['fanout']['delivered']:,} / {f['fanout']['expected']:,}",
        "all",
        lambda f: f["fanout"]["delivered"] == f["fanout"]["expected"],
    )
    row(
        "events written (rate)",
        lambda f: f"{f['fanout']['written']:,} ({f['fanout']['write_rate']}/s)",
    )
    row(
        "per event: first / last subscriber reached, p50",
        lambda f: f"{f['fanout']['first_p50_ms']:.1f} / {f['fanout']['last_p50_ms']:.1f} ms",
    )
    row(
        "per event: first / last subscriber reached, p99",
        lambda f: f"{f['fanout']['first_p99_ms']:.1f} / {f['fanout']['last_p99_ms']:.1f} ms",
    )
    row(
        "event loop lag p99 / max; stalls > 20 ms (their total)",
        lambda f: (
            f"{f['fanout']['loop']['lag_p99_ms']:.1f} / {f['fanout']['loop']['lag_max_ms']}"
            f" ms; {f['fanout']['loop']['stalls']} ({f['fanout']['loop']['stall_ms']:.0f} ms)"
        ),
    )
    row(
        "GC during fan-out: pauses by generation; total, longest gen 2",
        lambda f: (
            " ".join(f"g{g}:{n}" for g, n in f["fanout"]["loop"]["gc_pauses"].items())
            + f"; {f['fanout']['loop']['gc_ms']:.0f} ms, {f['fanout']['loop']['gen2_max_ms']} ms"
        ),
    )
    row(
        "hub reads (one per batch of notified organizations): count, of them empty",
        lambda f: (
            f"{f['fanout']['loop']['hub']['reads']:,} for"
            f" {f['fanout']['loop']['hub']['notifications']:,} notifications,"
            f" {f['fanout']['loop']['hub']['reads_empty']:,} empty"
        ),
    )
    row(
        "hub read time p50 / p99 / max; reader busy; queue p99 / max",
        lambda f: (
            f"{f['fanout']['loop']['hub']['read_p50_ms']} / "
            f"{f['fanout']['loop']['hub']['read_p99_ms']} /"
            f" {f['fanout']['loop']['hub']['read_max_ms']}"
            f" ms; {f['fanout']['loop']['hub']['read_busy_share']:.0%};"
            f" {f['fanout']['loop']['hub']['queue_p99']} /"
            f" {f['fanout']['loop']['hub']['queue_max']}"
        ),
    )
    row(
        "events late (> 20 ms to first subscriber): at a loop stall",
        lambda f: (
            f"{f['fanout']['loop']['late_events_at_a_stall']}"
            f" of {f['fanout']['loop']['late_events']}"
        ),
    )
    row(
        "CPU during fan-out: feed server / SSE client",
        lambda f: (
            f"{f['fanout']['server_cpu_share']:.0%} / {f['fanout']['client_cpu_share']:.0%}"
            " of a core"
        ),
    )
    row(
        "RSS idle -> with subscribers",
        lambda f: (
            f"{f['memory']['idle_kb'] / 1024:.1f} -> "
            f"{f['memory']['with_subscribers_kb'] / 1024:.1f} MB"
        ),
    )
    row(
        f"memory per idle subscriber ({n:,})",
        lambda f: f"{f['memory']['kb_per_subscriber']:.1f} KB",
        "<= 50 KB",
        lambda f: f["memory"]["kb_per_subscriber"] <= GOALS["kb_per_subscriber"],
    )
    row(
        "feed server CPU, idle: no subscribers / with them",
        lambda f: f"{f['memory']['cpu_idle']:.1%} / {f['memory']['cpu_subscribed']:.1%} of a core",
    )
    row(
        f"{n:,} streams opened in",
        lambda f: f"{f['memory']['attach_seconds']:.1f} s",
    )
    row(
        "leaks: other org / private non-members / billing to others",
        lambda f: " / ".join(str(v) for v in f["fanout"]["leaks"].values()),
        "0",
        lambda f: not any(f["fanout"]["leaks"].values()),
    )
    out.append(("Realtime feed, one process", feed))

    w1 = results["w1_idle"]
    out.append(
        (
            f"W1 with {n:,} idle subscribers vs the feed idle"
            f" (uvicorn, {len(w1['rounds'])} rounds)",
            [
                ["with subscribers", "without", "ratio, median (min-max)", "goal"],
                [
                    f"{w1['with_p50_ms']:.2f} ms",
                    f"{w1['without_p50_ms']:.2f} ms",
                    _med([r["ratio"] for r in w1["rounds"]], 3),
                    "<= 1.02x: "
                    + (
                        "within noise"
                        if w1["ratio_min"] <= GOALS["w1_ratio"] < w1["ratio_max"]
                        else _goal(w1["ratio_median"] <= GOALS["w1_ratio"])
                    ),
                ],
            ],
        )
    )
    api = results["api"]
    rows = [
        [
            "server (1 process)",
            "W1 p50, 1 client",
            "p50 / gunicorn sync",
            "req/s 1 client",
            "req/s 4",
        ]
    ]
    for name, f in api["servers"].items():
        ratio = api["p50_ratio_to_base"].get(name)
        rows.append(
            [
                SERVER_TITLES.get(name, name),
                _med(f["p50"]) + " ms",
                _med(ratio, 3) + "x" if ratio else "1",
                _med(f["rps1"], 0),
                _med(f["rps4"], 0),
            ]
        )
    out.append(("The JSON API: W1 under the ASGI app vs WSGI (median of rounds, min-max)", rows))
    return out


SERVER_TITLES = {
    "uvicorn-api": "uvicorn, config.asgi (API via a2wsgi)",
    "gunicorn-sync": "gunicorn sync, config.wsgi",
    "granian-asgi": "granian ASGI, config.asgi",
}


def render(results: dict[str, Any], fmt: Any) -> str:
    parts = []
    for title, rows in tables(results):
        parts.append(f"{title}\n\n{fmt(rows)}")
    return "\n\n".join(parts)


def write_markdown(results: dict[str, Any], quick: bool) -> Path:
    meta = results["meta"]
    out_dir = WORK / "results" if quick else report.RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"realtime-{meta['date']}{'-quick' if quick else ''}.md"
    body = [
        f"# Realtime feed bench, {meta['started']}",
        "",
        f"`{meta['command']}` at commit {meta['commit']}; {meta['cores']} cores;"
        f" {meta['subscribers']:,} subscribers over {meta['orgs']} organizations"
        f" ({meta['people']} people each, the last gets no events); writer {meta['rate']:g}"
        f" events/s for {meta['seconds']:g} s; {meta['rounds']} rounds.",
        "",
        f"Machine load: {meta['load']}.",
        "",
        render(results, report.markdown).replace("\n\n|", "\n\n|"),
        "",
        "Leak probe chances (deliveries that would have been leaks):"
        f" {json.dumps(results['feed'][next(iter(results['feed']))]['fanout']['chances'])}.",
        "",
        f"Total {meta['wall_seconds'] / 60:.1f} min.",
        "",
    ]
    path.write_text("\n".join(body))
    (out_dir / f"realtime-{meta['date']}{'-quick' if quick else ''}.json").write_text(
        json.dumps(results, indent=1, default=str)
    )
    return path


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    prep = sub.add_parser("prepare", help="(internal) mint the subscribers' tokens")
    prep.add_argument("out", type=Path)
    prep.add_argument("--orgs", type=int, default=10)
    prep.add_argument("--people", type=int, default=25)
    wr = sub.add_parser("write", help="(internal) commit events at a fixed rate")
    wr.add_argument("plan", type=Path)
    wr.add_argument("out", type=Path)
    wr.add_argument("--rate", type=float, default=100)
    wr.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--quick", action="store_true", help="200 subscribers, short rounds")
    parser.add_argument("--subscribers", type=int, help="streams (1000; quick 200)")
    parser.add_argument("--people", type=int, default=25, help="people per organization")
    parser.add_argument("--rate", type=float, default=100, help="events/s written")
    parser.add_argument("--seconds", type=float, help="writer run per feed server (30; quick 4)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (5; quick 2)")
    parser.add_argument("--w1-seconds", type=float, help="W1: s per server and round (2)")
    parser.add_argument("--round-seconds", type=float, help="req/s: s per run (1)")
    parser.add_argument("--settle", type=float, help="s after moving subscribers (2)")
    parser.add_argument("--grace", type=float, default=3.0, help="s after the last write")
    parser.add_argument("--feed-servers", default="uvicorn,granian-asgi")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON last")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile each feed server's event loop during the fan-out (pyinstrument; slows"
        " it: for finding where the time goes, not for the figures)",
    )
    args = parser.parse_args()
    if args.command == "prepare":
        cmd_prepare(args.out, args.orgs, args.people)
        return 0
    if args.command == "write":
        cmd_write(args.plan, args.out, args.rate, args.seconds)
        return 0
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    feed_kinds = [k.strip() for k in args.feed_servers.split(",") if k.strip()]
    if "granian-asgi" in feed_kinds and not GRANIAN.exists():
        feed_kinds.remove("granian-asgi")
    return run(args, feed_kinds)


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(f"signal {signum}")  # the servers and the client stop in ``finally``


def run(args: argparse.Namespace, feed_kinds: list[str]) -> int:
    signal.signal(signal.SIGTERM, _terminated)
    from bench.run import cpu_busy, git_commit, production_env, run_keys, wait_for_quiet

    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    from organizations.operations.scale_seed import seeding_steps

    steps = [label for label, _ in seeding_steps("seed_scale")]
    ds = data.SMALL
    _log(f"== data: {ds.name}")
    data.ensure(ds, steps, fresh=False)
    keys = run_keys()
    url = data.app_url(ds.name)
    env = production_env(url, keys, **STREAM_LIMITS)
    prep_out = WORK / "realtime-prepare.json"
    _log("== prepare: subscribers and tokens")
    subprocess.run(  # noqa: S603 - fixed argument list
        [sys.executable, str(Path(__file__)), "prepare", str(prep_out), f"--people={args.people}"],
        env=env | {"JWT_ACCESS_MINUTES": "240"},
        cwd=BASE_DIR,
        check=True,
    )
    plan = json.loads(prep_out.read_text())
    subs = Subscribers(plan, args.subscribers)
    w1 = workloads.w1_list(
        [
            {
                "org": o["slug"],
                "token": next(p for p in o["people"] if p["role"] == "member")["token"],
            }
            for o in plan["orgs"]
        ]
    )
    busy = wait_for_quiet(0.3, 5 if args.quick else 60)
    load_before = os.getloadavg()[0]
    logs = WORK / "logs"

    def server(kind: str, name: str, app: str = PROBED_APP) -> Server:
        return Server(name, app, env, 1, logs / f"realtime-{name}.log", kind)

    pool = {
        "uvicorn-feed": server("uvicorn", "uvicorn-feed"),
        "uvicorn-api": server("uvicorn", "uvicorn-api"),
        "gunicorn-sync": server("sync", "gunicorn-sync", "config.wsgi"),
    }
    if "granian-asgi" in feed_kinds:
        pool["granian-asgi"] = server("granian-asgi", "granian-asgi")
    client = Client()
    results: dict[str, Any] = {"feed": {}}
    idle_seconds = 3.0 if args.quick else 10.0
    loads = {}
    try:
        _log("== servers: " + ", ".join(pool))
        for s in pool.values():
            s.start()
        for name in ("uvicorn-feed", "uvicorn-api", "granian-asgi"):
            if name in pool:
                _warm(pool[name], client, subs, w1)
        loadgen.run(w1.requests, port=pool["gunicorn-sync"].port, concurrency=2, seconds=1.0)

        _log("== uvicorn: memory, W1 idle vs subscribed, fan-out, leaks")
        feed = pool["uvicorn-feed"]
        memory = memory_step(client, feed, subs, idle_seconds)
        results["recheck"] = recheck_probe(url, plan, subs, 5)
        _log(f"   recheck statement for {len(subs)} streams: {results['recheck']}")
        fanout = fanout_step(client, feed, subs, plan, env, args)
        results["feed"]["uvicorn"] = {"memory": memory, "fanout": fanout}
        results["w1_idle"] = w1_step(client, (feed, pool["uvicorn-api"]), subs, w1, args)
        client.close()
        time.sleep(args.settle)
        results["after_w1"] = {
            s.name: {"rss_kb": _rss_kb(s), **_stats(s)} for s in (feed, pool["uvicorn-api"])
        }
        _log(f"   after the W1 rounds, every stream closed: {results['after_w1']}")
        loads["uvicorn"] = os.getloadavg()[0]
        time.sleep(args.settle)

        _log("== the JSON API: ASGI vs WSGI")
        api_servers = [
            pool[n] for n in ("gunicorn-sync", "uvicorn-api", "granian-asgi") if n in pool
        ]
        results["api"] = api_step(api_servers, w1, args)
        loads["api"] = os.getloadavg()[0]

        if "granian-asgi" in pool:
            _log("== granian: memory, fan-out, leaks")
            g = pool["granian-asgi"]
            memory = memory_step(client, g, subs, idle_seconds)
            fanout = fanout_step(client, g, subs, plan, env, args)
            results["feed"]["granian-asgi"] = {"memory": memory, "fanout": fanout}
            client.close()
            loads["granian"] = os.getloadavg()[0]
    finally:
        client.quit()
        for s in pool.values():
            s.stop()
    load_after = os.getloadavg()[0]
    commit = git_commit()
    now = datetime.now(UTC)
    results["meta"] = {
        "date": now.strftime("%Y-%m-%d"),
        "started": now.strftime("%Y-%m-%d %H:%M UTC"),
        "command": "bench/realtime.py " + " ".join(sys.argv[1:]),
        "commit": commit,
        "cores": loadgen.cpu_count(),
        "subscribers": len(subs),
        "orgs": len(plan["orgs"]),
        "people": args.people,
        "rate": args.rate,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "load": (
            f"CPUs {busy:.0%} busy with other work just before; 1-min load average"
            f" {load_before:.1f} before, "
            + ", ".join(f"{v:.1f} after {k}" for k, v in loads.items())
            + f", {load_after:.1f} at the end (2 cores, shared)"
        ),
        "wall_seconds": time.perf_counter() - started,
    }
    _ = cpu_busy
    path = write_markdown(results, args.quick)
    print(render(results, report.console))
    print(f"\n{results['meta']['load']}")
    minutes = results["meta"]["wall_seconds"] / 60
    print(f"written {path.relative_to(BASE_DIR)}; total {minutes:.1f} min")
    if args.json:
        print(json.dumps(results, indent=1, default=str))
    leaks = sum(sum(f["fanout"]["leaks"].values()) for f in results["feed"].values())
    return 1 if leaks else 0


if __name__ == "__main__":
    raise SystemExit(main())
