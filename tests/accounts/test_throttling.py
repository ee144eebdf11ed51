"""The attempt counter every door counts with (``accounts.throttling.hit``): a sliding
window of two integer counters, so no burst of twice the rate at a window's edge, and
a refused attempt does not count."""

from __future__ import annotations

import time_machine
from django.core.cache import cache

from accounts.throttling import attempt_allowed, hit

START = 1_800_000_000 // 60 * 60  # the start of a minute


def _allowed(n: int, rate: str = "3/min") -> list[bool]:
    return [hit("test", "someone", rate) is None for _ in range(n)]


def test_the_rate_is_allowed_and_the_next_attempt_refused_with_a_wait():
    cache.clear()
    with time_machine.travel(START + 10, tick=False):
        assert _allowed(3) == [True, True, True]
        refused = hit("test", "someone", "3/min")

    assert refused is not None and refused.scope == "test"
    assert refused.wait == 50  # the rest of this minute
    assert hit("test", "someone else", "3/min") is None  # buckets are per ident


def test_the_window_slides_no_double_burst_at_its_edge():
    """Killed: a fixed-window counter lets 3 more through at START + 60."""
    cache.clear()
    with time_machine.travel(START + 59, tick=False):
        assert _allowed(3) == [True, True, True]
    with time_machine.travel(START + 60, tick=False):
        assert _allowed(1) == [False]  # 3 of the last 60 s
    with time_machine.travel(START + 90, tick=False):
        assert _allowed(2) == [True, False]  # half of the previous minute still counts
    with time_machine.travel(START + 120, tick=False):
        assert _allowed(3) == [True, True, False]  # the previous minute counted 1


def test_refused_attempts_do_not_count():
    cache.clear()
    with time_machine.travel(START, tick=False):
        assert _allowed(10) == [True] * 3 + [False] * 7
    with time_machine.travel(START + 120, tick=False):
        assert _allowed(3) == [True, True, True]


def test_the_admin_login_helper_counts_in_the_same_counter():
    cache.clear()
    with time_machine.travel(START, tick=False):
        assert [attempt_allowed("test", "someone", "3/min") for _ in range(2)] == [True, True]
        assert _allowed(2) == [True, False]
