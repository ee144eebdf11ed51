"""The request sets of the web workloads, built from the targets ``inproc.py prepare`` chose.

Each set is shuffled with a fixed seed, so every server in a run gets the same
requests in the same order (W3 bodies differ only in their unique slug).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from bench.loadgen import HttpRequest

PAGE_SIZE = 50


@dataclass(frozen=True)
class Workload:
    id: str
    title: str
    expected_status: int
    requests: list[HttpRequest]


def _shuffled(requests: list[HttpRequest], seed: str) -> list[HttpRequest]:
    random.Random(seed).shuffle(requests)  # noqa: S311 - test data
    return requests


def w0_ping() -> Workload:
    return Workload("W0", "constant response, no database", 200, [HttpRequest("GET", "/ping")])


def w1_list(targets: list[dict[str, Any]]) -> Workload:
    requests = [
        HttpRequest(
            "GET", f"/api/v1/orgs/{t['org']}/projects/?page_size={PAGE_SIZE}", token=t["token"]
        )
        for t in targets
    ]
    return Workload("W1", f"list {PAGE_SIZE} projects, random org", 200, _shuffled(requests, "W1"))


def w2_detail(targets: list[dict[str, Any]]) -> Workload:
    requests = [
        HttpRequest("GET", f"/api/v1/orgs/{t['org']}/projects/{slug}/", token=t["token"])
        for t in targets
        for slug in t["projects"]
    ]
    return Workload("W2", "one project's detail", 200, _shuffled(requests, "W2"))


def w3_create(targets: list[dict[str, Any]], tag: str, count: int = 20_000) -> Workload:
    """``count`` creates with unique slugs (``bench-<tag>-<n>``), round robin over the orgs."""
    rng = random.Random("W3")  # noqa: S311 - test data
    requests = []
    for n in range(count):
        t = targets[rng.randrange(len(targets))]
        body = orjson.dumps({"name": f"Bench project {n}", "slug": f"bench-{tag}-{n}"})
        requests.append(
            HttpRequest("POST", f"/api/v1/orgs/{t['org']}/projects/", body=body, token=t["token"])
        )
    return Workload("W3", "create a project (+ audit event)", 201, requests)


def w4_probe(targets: list[dict[str, Any]]) -> Workload:
    """A member of one org asks for another org's list and one of its projects: 404 expected."""
    requests = []
    for t in targets:
        if not t["foreign_org"]:
            continue
        base = f"/api/v1/orgs/{t['foreign_org']}/projects/"
        requests.append(HttpRequest("GET", f"{base}?page_size={PAGE_SIZE}", token=t["token"]))
        for slug in t["foreign_projects"][:1]:
            requests.append(HttpRequest("GET", f"{base}{slug}/", token=t["token"]))
    return Workload("W4", "cross-tenant probe (must be 404)", 404, _shuffled(requests, "W4"))
