"""The per-request cost of the user throttle alone, DRF's sliding log against the O(1)
sliding-window counter (``config/api/throttling.py``), for a user with ``n`` requests
already in the window (issue 21). In-process, local-memory cache (the default), the
thread's own CPU time, the median of interleaved rounds:

    .venv/bin/python bench/throttle_cost.py [--rounds 15] [--calls 400]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.cache import cache  # noqa: E402
from rest_framework import throttling  # noqa: E402

from integrations.apikeys import UserRateThrottle  # noqa: E402


class _User:
    is_authenticated = True

    def __init__(self, pk: str) -> None:
        self.pk = pk


class _Request:
    auth = None

    def __init__(self, pk: str) -> None:
        self.user = _User(pk)
        self.META = {"REMOTE_ADDR": "127.0.0.1"}


def _cost(make: Any, history: int, calls: int, rate: str) -> float:
    """Microseconds of CPU per ``allow_request`` with ``history`` requests in the window."""
    cache.clear()
    request = _Request("user-1")
    for _ in range(history):
        make().allow_request(request, None)
    started = time.thread_time()
    for _ in range(calls):
        make().allow_request(request, None)
    return (time.thread_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()
    rate = "100000/min"  # never refused: the cost of counting alone
    rates = django.conf.settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    rates["user"] = rate
    throttling.UserRateThrottle.THROTTLE_RATES = rates
    out: dict[str, Any] = {}
    for history in (0, 100, 1000):
        samples: dict[str, list[float]] = {"drf_sliding_log": [], "window_counter": []}
        for r in range(args.rounds):
            order = list(samples) if r % 2 == 0 else list(reversed(samples))
            for name in order:
                make = (
                    throttling.UserRateThrottle if name == "drf_sliding_log" else UserRateThrottle
                )
                samples[name].append(_cost(make, history, args.calls, rate))
        out[f"history {history}"] = {
            name: {
                "median_us": round(statistics.median(v), 1),
                "min_us": round(min(v), 1),
                "max_us": round(max(v), 1),
            }
            for name, v in samples.items()
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
