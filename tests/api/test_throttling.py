"""The API's per-IP, per-user and per-key throttles (issue 21): an O(1) sliding-window
counter instead of DRF's pickled request log, with the same limits, buckets, 429
envelope and ``Retry-After``."""

from __future__ import annotations

import pickle
import random
import threading

import pytest
from django.core.cache import cache

from config.api.throttling import parse_rate, window_hit
from tests.helpers import client_for

KEY = "throttle:test:someone"


def test_rates_use_drfs_notation():
    assert parse_rate("10/min") == (10, 60)
    assert parse_rate("3/hour") == (3, 3600)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("1200/minute") == (1200, 60)


def test_the_limit_holds_in_a_window_and_a_refusal_is_not_counted():
    start = 600.0  # the start of a 60 s window
    assert [window_hit(KEY, 3, 60, start + i) for i in range(3)] == [None, None, None]
    wait = window_hit(KEY, 3, 60, start + 3)
    assert wait == 57  # the current window alone is full: until it ends
    assert window_hit(KEY, 3, 60, start + 4) == 56  # still refused; not counted
    assert cache.get(f"{KEY}:10") == 3


def test_the_previous_window_counts_as_much_as_it_still_overlaps():
    for i in range(4):
        assert window_hit(KEY, 4, 60, 600.0 + i) is None  # window 10 full
    # 15 s into window 11: 4 * 0.75 = 3 of window 10 still count, room for 1
    assert window_hit(KEY, 4, 60, 675.0) is None
    wait = window_hit(KEY, 4, 60, 676.0)
    assert wait is not None and 1 <= wait <= 15  # 4 * (1 - t) + 1 + 1 <= 4 at t >= 0.5
    assert window_hit(KEY, 4, 60, 676.0 + wait) is None  # allowed once it said so


def test_no_sliding_window_ever_lets_more_than_the_rate_through():
    """Requests at random times for five windows: in every interval of the rate's
    length, at most ``limit`` were allowed (the counter may refuse early, never late)."""
    rng = random.Random(21)  # noqa: S311 - request times, not secrets
    limit, duration = 10, 60
    times = sorted(600.0 + rng.uniform(0, 5 * duration) for _ in range(400))
    allowed = [t for t in times if window_hit(KEY, limit, duration, t) is None]
    assert len(allowed) >= 4 * limit  # not refusing everything either
    for i, t in enumerate(allowed):
        in_window = [u for u in allowed[i:] if u < t + duration]
        assert len(in_window) <= limit, (t, len(in_window))


def test_each_request_costs_two_small_integers_not_a_growing_list():
    """DRF kept every timestamp of the window (pickled on each request); the counter
    keeps one integer per window whatever the rate."""
    for i in range(500):
        window_hit(KEY, 1000, 60, 600.0 + i * 0.1)
    assert cache.get(f"{KEY}:10") == 500
    assert len(pickle.dumps(cache.get(f"{KEY}:10"))) < 16


def test_concurrent_requests_are_all_counted():
    """Counted with add/incr, not read-modify-write: threads hitting one bucket at once
    get exactly the limit through (DRF's get/set lost counts here and let more pass)."""
    limit, threads, each = 25, 8, 10
    allowed: list[int] = []
    barrier = threading.Barrier(threads)

    def client() -> None:
        barrier.wait()
        for _ in range(each):
            if window_hit(KEY, limit, 3600) is None:
                allowed.append(1)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(allowed) == limit


@pytest.fixture
def rates(monkeypatch, settings):
    def set_rate(scope: str, rate: str) -> None:
        monkeypatch.setitem(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], scope, rate)

    return set_rate


def test_users_are_throttled_each_in_their_own_bucket(personas, rates):
    rates("user", "2/min")
    member, admin = client_for(personas.user("member")), client_for(personas.user("admin"))
    assert [member.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]
    assert admin.get("/api/v1/me/").status_code == 200
    refused = member.get("/api/v1/me/")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert refused["Retry-After"].isdigit() and 1 <= int(refused["Retry-After"]) <= 60


def test_anonymous_requests_are_throttled_per_address(rates):
    """``anon`` counts per client address (the views that take anonymous requests and the
    default throttles); a signed-in request is not in it."""
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from config.api.throttling import AnonRateThrottle

    rates("anon", "2/min")

    def allowed(address: str) -> bool:
        request = Request(APIRequestFactory().get("/api/v1/x/", REMOTE_ADDR=address))
        request.user = AnonymousUser()
        return AnonRateThrottle().allow_request(request, None)

    assert [allowed("192.0.2.1") for _ in range(3)] == [True, True, False]
    assert allowed("192.0.2.2")
    throttle = AnonRateThrottle()
    request = Request(APIRequestFactory().get("/api/v1/x/", REMOTE_ADDR="192.0.2.1"))
    request.user = AnonymousUser()
    assert throttle.allow_request(request, None) is False
    assert 1 <= throttle.wait() <= 60
    request.user = type("Someone", (), {"is_authenticated": True})()
    assert AnonRateThrottle().allow_request(request, None)  # signed in: not counted here
