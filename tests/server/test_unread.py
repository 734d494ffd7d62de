"""Rebuilding unread messages with ids from counts and history, including messages that arrive
in the middle of the read: nothing unread may be skipped (a later mark_read would lose it)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from sharkfin_mcp.client import Message, SharkfinClient, UnreadCount
from sharkfin_mcp.server._unread import collect_unread

pytestmark = pytest.mark.anyio


class ScriptedDaemon:
    """A channel's messages and a read cursor; ``arrivals`` are posted after the Nth request."""

    def __init__(self, senders: list[str], cursor: int, arrivals: dict[int, list[str]]) -> None:
        self.messages = [Message(id=i + 1, sender=s, body=f"m{i + 1}") for i, s in enumerate(senders)]
        self.cursor = cursor
        self.arrivals = arrivals
        self.requests = 0

    def _tick(self) -> None:
        self.requests += 1
        for sender in self.arrivals.pop(self.requests, []):
            self.messages.append(Message(id=len(self.messages) + 1, sender=sender, body="late"))

    def unread(self) -> list[int]:
        return [m.id for m in self.messages if m.id and m.id > self.cursor and m.sender != "agent"]

    async def unread_counts(self) -> list[UnreadCount]:
        self._tick()
        n = len(self.unread())
        return [UnreadCount(channel="general", unread_count=n)] if n else []

    async def history(self, channel: str, *, before: int | None = None, limit: int = 100) -> list[Message]:
        self._tick()
        older = [m for m in self.messages if before is None or (m.id or 0) < before]
        return older[-limit:]


async def read(daemon: ScriptedDaemon, limit: int = 200) -> list[int]:
    found, _ = await collect_unread(cast(SharkfinClient, daemon), "agent", None, False, None, limit)
    assert all(channel == "general" and "channel" not in row for channel, row in found)
    return [row["id"] for _, row in found]


@pytest.mark.parametrize("arrive_after_request", [None, 1, 2, 3])
async def test_nothing_unread_is_skipped_whenever_a_message_arrives(arrive_after_request: Any) -> None:
    senders = ["alice", "agent", "bob"] * 80  # own messages interleaved; pages of 100 matter
    arrivals = {arrive_after_request: ["carol", "carol"]} if arrive_after_request else {}
    daemon = ScriptedDaemon(senders, cursor=100, arrivals=arrivals)
    unread_at_start = daemon.unread()
    got = await read(daemon)
    assert set(unread_at_start) <= set(got), "an unread message was skipped"
    assert got == sorted(got) and len(got) == len(set(got))
    extra = set(got) - set(daemon.unread())
    assert not extra, f"showed already-read messages {extra}"


async def test_limit_returns_the_oldest_and_counts_the_rest() -> None:
    daemon = ScriptedDaemon(["alice"] * 30, cursor=10, arrivals={})
    found, remaining = await collect_unread(cast(SharkfinClient, daemon), "agent", None, False, None, 5)
    assert [(channel, row["id"]) for channel, row in found] == [("general", i) for i in range(11, 16)]
    assert remaining == 15


async def test_arrivals_on_every_request_still_skip_nothing() -> None:
    """Traffic that never lets the counts agree: the fallback may show a read message, never skip one."""
    arrivals = {n: ["carol"] for n in range(1, 40)}
    daemon = ScriptedDaemon(["alice", "agent"] * 60, cursor=50, arrivals=arrivals)
    unread_at_start = daemon.unread()
    got = await read(daemon)
    assert set(unread_at_start) <= set(got)
