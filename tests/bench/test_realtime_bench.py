"""The realtime bench's judge (``bench/realtime.py``): how received events are classified
as deliveries or leaks, and the SSE client's frame decoding. Hand-made figures only:
no timing is measured here."""

from __future__ import annotations

import asyncio

from bench import realtime
from bench.rtclient import Spec, _Stream

ORG, OTHER, QUIET = "org-a", "org-b", "org-q"


class _Subs(realtime.Subscribers):
    def __init__(self, meta: dict[int, dict]) -> None:
        self.meta = meta
        self.specs = [Spec(i, "/", "t") for i in meta]


def _meta(org: str, role: str, project_member: bool = False) -> dict:
    return {"org": org, "user": f"u-{role}", "role": role, "project_member": project_member}


def test_every_kind_of_leak_is_counted_and_expected_follows_the_rule() -> None:
    subs = _Subs(
        {
            0: _meta(ORG, "owner"),
            1: _meta(ORG, "member"),
            2: _meta(ORG, "viewer", project_member=True),
            3: _meta(OTHER, "member"),
            4: _meta(QUIET, "member"),
        }
    )
    written = [
        # org, sequence, kind, action, target, commit time, due
        [ORG, 1, "public", "chat_message.created", "t1", 10.0, 10.0],
        [ORG, 2, "private", "chat_message.created", "t2", 10.1, 10.1],
        [ORG, 3, "billing", "billing.stripe_event_applied", "t3", 10.2, 10.2],
        [OTHER, 1, "public", "chat_message.created", "t4", 10.3, 10.3],
    ]
    got = {
        "events": [
            (0, 1, "chat_message.created", 10.01, "t1"),  # ok
            (0, 2, "chat_message.created", 10.12, "t2"),  # ok: owner sees private
            (0, 3, "billing.stripe_event_applied", 10.23, "t3"),  # ok: owner sees billing
            (1, 1, "chat_message.created", 10.02, "t1"),  # ok
            (1, 2, "chat_message.created", 10.11, "t2"),  # leak: not a project member
            (1, 3, "billing.stripe_event_applied", 10.21, "t3"),  # leak: a member
            (2, 2, "chat_message.created", 10.11, "t2"),  # ok: project member
            (2, 2, "chat_message.created", 10.15, "t2"),  # a duplicate
            (3, 1, "chat_message.created", 10.2, "t1"),  # leak: org-a's event on org-b
            (3, 1, "chat_message.created", 10.31, "t4"),  # ok
            (4, 1, "chat_message.created", 10.4, "t4"),  # leak: the quiet org
        ]
    }
    result = realtime.analyse(written, got, subs, quiet_org=QUIET)
    assert result["leaks"] == {"other_org": 2, "private_non_members": 1, "billing_to_others": 1}
    # owner 3, member 1 (public), viewer project member 2 (public, private), org-b 1
    assert result["expected"] == 7
    assert result["delivered"] == 6 and result["duplicates"] == 1
    assert result["chances"]["private_non_members"] == 1  # the member
    assert result["chances"]["billing_to_others"] == 2  # the member and the viewer


def test_the_client_decodes_chunked_sse_frames_split_anywhere() -> None:
    loop = asyncio.new_event_loop()
    try:
        stream = _Stream(Spec(7, "/", "t"), [], loop.create_future(), chunked=True)
        frames = [
            b"retry: 3000\n\n",
            b'id: 5\nevent: ready\ndata: {"sequence": 5}\n\n',
            b": keepalive\n\n",
            b'id: 6\nevent: page_comment.created\ndata: {"id": "c1", "sequence": 6}\n\n',
            b'event: close\ndata: {"reason": "too_slow"}\n\n',
        ]
        wire = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames) + b"0\r\n\r\n"
        for i in range(0, len(wire), 7):  # arbitrary cuts, inside sizes and frames
            stream.feed(wire[i : i + 7], 1.5)
        assert stream.head == 5 and stream.ready.result() == 5
        assert stream.events == [(7, 6, "page_comment.created", 1.5, "c1")]
        assert stream.heartbeats == 1 and stream.closed == "too_slow"
    finally:
        loop.close()
