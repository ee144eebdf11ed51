"""Every page is a door (issue 17 §2, design §5): each POST of every HTML page this
server renders outside the API, the admin and the live sites is throttled.

The walk reads the root URLconf, so a page added later is walked too (and a page whose
route needs values is a failure until this test learns them). Every throttle scope is
set to ``LIMIT`` per minute; each page, with each kind of form body it accepts, must
answer the ``LIMIT + 1``-th POST from one address with 429. A page that takes no POST
(405) is recorded and must stay GET-only.

Seen failing on 15e4145 (every page answered 400/404/200 for ever), and with the
throttle of ``/verify-email`` removed (only that page failed).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

LIMIT = 2
EXCLUDED = ("api/", "admin/", "p/", settings.STATIC_URL.lstrip("/"), settings.MEDIA_URL.lstrip("/"))
# The kinds of form the pages post: with a token (using a link), without one (asking
# for mail), and each invitation action. Unknown fields are ignored by every page.
BODIES = [
    {"token": "not-a-token", "password": "wrong-password-1", "email": "a@example.test"},
    {"email": "a@example.test"},
    {"token": "x", "action": "signin", "email": "a@example.test", "password": "w", "code": "1"},
    {"token": "x", "action": "signup", "password": "wrong-password-1"},
    {"token": "x", "action": "accept"},
]
KNOWN_PAGES = {"verify-email", "reset-password", "invitations/accept"}


def _routes(patterns: list, prefix: str = "") -> Iterator[tuple[str, object]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def pages() -> list[str]:
    found = []
    for route, _pattern in _routes(get_resolver().url_patterns):
        route = route.lstrip("^").rstrip("$")
        if route.startswith(EXCLUDED):
            continue
        assert "<" not in route and "(" not in route, (
            f"/{route} takes values: teach this walk how to reach it"
        )
        found.append(route)
    return found


@pytest.fixture
def low_rates(settings):
    config = copy.deepcopy(settings.REST_FRAMEWORK)
    config["DEFAULT_THROTTLE_RATES"] = {
        scope: f"{LIMIT}/min" for scope in config["DEFAULT_THROTTLE_RATES"]
    }
    settings.REST_FRAMEWORK = config


def test_the_walk_finds_the_pages_behind_email_links():
    assert set(pages()) >= KNOWN_PAGES


def test_every_post_of_every_page_is_throttled(low_rates):
    get_only, walked = [], []
    for route in pages():
        path = f"/{route}"
        for body in BODIES:
            cache.clear()
            client = Client()
            statuses = [client.post(path, body).status_code for _ in range(LIMIT + 1)]
            if statuses[0] == 405:
                get_only.append(path)
                break
            assert 429 not in statuses[:LIMIT], (path, body, statuses)
            assert statuses[LIMIT] == 429, (path, body, statuses)
            walked.append(path)

    assert {f"/{page}" for page in KNOWN_PAGES} <= set(walked)
    assert set(get_only) == {"/"}, get_only  # the landing page takes no POST
