"""Overflow accounting of a client's implicit cursor when the client also makes explicit reads.

An explicit read records what it returned as given (``Reader.record``) but leaves the drop
accounting to the reader's own next read, so that read still reports every event that left the
buffer before the reader was given it.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from sharkfin_mcp.client import SharkfinClient

from .conftest import ConnectMCP, call_ok, message_ids, structured

pytestmark = pytest.mark.anyio


async def events(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    return await structured(client, "poll_events", args)


async def test_without_explicit_reads_got_plus_dropped_is_everything(
    connect_mcp: ConnectMCP, mode: str, alice: SharkfinClient
) -> None:
    async with connect_mcp(mode, event_buffer=10) as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        start = (await events(client, {"limit": 500}))["next_after"]  # the reader is at the end
        posted = [await alice.send_message("general", f"flood {n}") for n in range(15)]
        got: list[int] = []
        dropped = 0
        with anyio.fail_after(10):
            while posted[-1] not in got:
                out = await events(client, {"limit": 500})
                got += message_ids(out)
                dropped += out["dropped"]
                await anyio.sleep(0.05)
        others = (await events(client, {"after": start, "limit": 500}))["next_after"] - start - len(posted)
        assert len(got) + dropped == len(posted) + others


async def test_an_explicit_read_does_not_hide_drops_from_the_implicit_cursor(
    connect_mcp: ConnectMCP, mode: str, alice: SharkfinClient
) -> None:
    async with connect_mcp(mode, event_buffer=10) as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        start = (await events(client, {"limit": 500}))["next_after"]  # the reader is at the end
        posted = [await alice.send_message("general", f"flood {n}") for n in range(15)]
        # The client watches the end of the buffer with an explicit cursor (returns nothing) ...
        with anyio.fail_after(10):
            while (await events(client, {"after": 10**9}))["next_after"] < start + len(posted):
                await anyio.sleep(0.05)
        # ... and then reads as itself: at least 5 of the 15 left a 10-event buffer unread.
        out = await events(client, {"limit": 500})
        got = message_ids(out)
        assert set(got) < set(posted)
        assert out["dropped"] >= len(posted) - len(got)
