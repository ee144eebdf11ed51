"""Every link in every email the suite sends is followed, when it is sent.

The test email backend (installed for every test by ``tests/conftest.py``)
keeps Django's in-memory outbox and, for each message, GETs each link on
this server (``FRONTEND_URL`` + path) with the test client, inside a
savepoint that is rolled back, so following a link changes nothing the test
can see. A link that is not this server's or does not answer 200 is recorded
as dead, and the test that sent it fails at teardown.
"""

from __future__ import annotations

import contextvars
import re
from email.message import Message
from typing import Any

from django.conf import settings
from django.core.mail.backends import locmem
from django.db import transaction
from django.test import Client

LINK = re.compile(r"https?://[^\s<>\"')]+")

followed: list[tuple[str, int]] = []  # (link, status), for the whole session
dead: list[str] = []


def links_of(message: Any) -> list[str]:
    bodies = [message.body, *(content for content, _ in getattr(message, "alternatives", []))]
    found: list[str] = []
    for body in bodies:
        text = body if isinstance(body, str) else str(body)
        found.extend(link.rstrip(".,;:") for link in LINK.findall(text))
    return list(dict.fromkeys(found))


def follow(url: str) -> int:
    """The status this server answers for ``url``; 0 if it is not a link to this server."""
    base = settings.FRONTEND_URL.rstrip("/")
    if not url.startswith(base + "/"):
        return 0
    try:
        # In a context of its own: the nested request binds (and clears) its own log
        # context, which must not touch the sender's (a task's request id, say).
        return contextvars.Context().run(_get_in_rolled_back_savepoint, url[len(base) :])
    except Exception:
        return -1


def _get_in_rolled_back_savepoint(path: str) -> int:
    with transaction.atomic():
        response = Client().get(path)
        transaction.set_rollback(True)
    return response.status_code


class LinkFollowingBackend(locmem.EmailBackend):
    def send_messages(self, messages: list[Message]) -> int:  # type: ignore[override]
        for message in messages:
            for url in links_of(message):
                status = follow(url)
                followed.append((url, status))
                if status != 200:
                    dead.append(f"{url} -> {status} (in {message.subject!r})")
        return super().send_messages(messages)
