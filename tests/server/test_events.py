"""The event buffer through the in-memory MCP client in both eras: cursors, waits that return on
arrival and on timeout while other calls proceed, own-message filtering, overflow reporting."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from mcp import Client

from sharkfin_mcp.client import SharkfinClient

from .conftest import ConnectMCP, call_err, call_ok, message_ids, structured, text_of

pytestmark = pytest.mark.anyio


async def poll_until(client: Client, message_id: int, **args: Any) -> dict[str, Any]:
    """poll_events(after=...) until the message with ``message_id`` is in the buffer."""
    with anyio.fail_after(5):
        while True:
            out = await structured(client, "poll_events", {"limit": 500, **args})
            if any(e["data"].get("id") == message_id for e in out["events"]):
                return out
            await anyio.sleep(0.02)


async def test_poll_cursor_then_nothing_new(mcp: Client, alice: SharkfinClient) -> None:
    message_id = await alice.send_message("general", "ping @agent")
    out = await poll_until(mcp, message_id, after=0)
    event = next(e for e in out["events"] if e["type"] == "message.new")
    assert event["data"]["from"] == "alice" and event["data"]["body"] == "ping @agent"
    assert event["data"]["mentions"] == ["agent"] and "caught_up" not in event  # absent unless true
    assert event["channel"] == "general" and "channel" not in event["data"]
    assert out["next_after"] >= event["seq"] and out["dropped"] == 0
    again = await structured(mcp, "poll_events", {"after": out["next_after"]})
    assert again["events"] == [] and again["next_after"] == out["next_after"]
    assert text_of(await call_ok(mcp, "poll_events", {"after": out["next_after"]})).split("\n") == [
        "no new events",
        f"next_after={out['next_after']}",
    ]
    # types and channel filters
    only_presence = await structured(mcp, "poll_events", {"after": 0, "types": ["presence"]})
    assert all(e["type"] == "presence" for e in only_presence["events"])
    refused = await call_err(mcp, "poll_events", {"after": 0, "channel": "elsewhere"})
    assert "unknown channel" in refused and "'elsewhere'" in refused


async def test_poll_without_after_continues_from_the_session_cursor(
    mcp: Client, alice: SharkfinClient
) -> None:
    first = await alice.send_message("general", "one")
    await poll_until(mcp, first, after=0)  # an explicit cursor moves the session's cursor too
    assert (await structured(mcp, "poll_events"))["events"] == []  # the session cursor moved on
    assert first in message_ids(await structured(mcp, "poll_events", {"after": 0}))
    second = await alice.send_message("general", "two")
    with anyio.fail_after(5):
        got = await structured(mcp, "wait_for_events", {"timeout_seconds": 5})
    assert message_ids(got) == [second]


async def test_wait_for_messages_returns_on_arrival(mcp: Client, alice: SharkfinClient) -> None:
    await structured(mcp, "poll_events", {"after": 10**9})  # session cursor to the end
    result: dict[str, Any] = {}

    async def waiter() -> None:
        started = time.monotonic()
        result["out"] = await structured(mcp, "wait_for_messages", {"timeout_seconds": 20})
        result["took"] = time.monotonic() - started

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.sleep(0.3)
        assert "out" not in result  # still waiting
        sent_at = time.monotonic()
        message_id = await alice.send_message("general", "wake up")
    assert result["out"]["timed_out"] is False
    assert message_ids(result["out"]) == [message_id]
    assert 0.25 < result["took"] < 3.0
    assert time.monotonic() - sent_at < 2.0


async def test_wait_times_out(mcp: Client) -> None:
    await structured(mcp, "poll_events", {"after": 10**9})
    started = time.monotonic()
    res = await call_ok(mcp, "wait_for_messages", {"timeout_seconds": 0.4})
    took = time.monotonic() - started
    out = res.structured_content
    assert out is not None and out["timed_out"] is True and out["events"] == []
    assert 0.35 < took < 2.0
    assert "timed out" in text_of(res)
    zero = await structured(mcp, "wait_for_events", {"timeout_seconds": 0})
    assert zero["timed_out"] is True and zero["events"] == []


async def test_other_calls_proceed_while_a_wait_is_pending(mcp: Client, alice: SharkfinClient) -> None:
    await structured(mcp, "poll_events", {"after": 10**9})
    done: dict[str, float] = {}

    async def waiter() -> None:
        await structured(mcp, "wait_for_events", {"timeout_seconds": 5, "types": ["message.new"]})
        done["wait"] = time.monotonic()

    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.sleep(0.1)
        for _ in range(3):
            await structured(mcp, "history", {"channel": "general"})
            await structured(mcp, "whoami")
        done["other"] = time.monotonic()
        assert "wait" not in done
        await alice.send_message("general", "release the wait")
    assert done["other"] < done["wait"]
    assert done["other"] - started < 1.5  # not serialized behind the 5 s wait
    assert done["wait"] - started < 4.0  # released by the message, not by the timeout


async def test_own_messages_are_not_waited_for(mcp: Client, alice: SharkfinClient) -> None:
    await structured(mcp, "poll_events", {"after": 10**9})
    mine = (await structured(mcp, "send_message", {"channel": "general", "body": "my own"}))["id"]
    out = await structured(mcp, "wait_for_messages", {"timeout_seconds": 0.5})
    assert out["timed_out"] is True and out["events"] == []
    theirs = await alice.send_message("general", "theirs")
    out = await structured(mcp, "wait_for_messages", {"timeout_seconds": 5})
    assert message_ids(out) == [theirs] and mine not in message_ids(out)


async def test_wait_for_messages_filters_channel_and_mentions(mcp: Client, alice: SharkfinClient) -> None:
    await call_ok(mcp, "channel_create", {"name": "side", "members": ["alice"]})
    await structured(mcp, "poll_events", {"after": 10**9})
    await alice.send_message("side", "elsewhere")
    plain = await alice.send_message("general", "no mention")
    mention = await alice.send_message("general", "hey @agent")
    out = await structured(mcp, "wait_for_messages", {"channel": "general", "timeout_seconds": 5})
    assert message_ids(out)[0] == plain and set(message_ids(out)) <= {plain, mention}
    assert {e["channel"] for e in out["events"]} == {"general"}
    await structured(mcp, "poll_events", {"after": 0})  # reset the session cursor to the start
    await structured(mcp, "poll_events", {"after": 0, "limit": 1})
    out = await structured(mcp, "wait_for_events", {"after": 0, "mentions_only": True, "timeout_seconds": 5})
    assert message_ids(out) == [mention]


async def test_exclude_own_false_includes_own_messages(connect_mcp: ConnectMCP, mode: str) -> None:
    async with connect_mcp(mode, exclude_own_messages=False) as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        await structured(client, "poll_events", {"after": 10**9})
        mine = (await structured(client, "send_message", {"channel": "general", "body": "mine"}))["id"]
        out = await structured(client, "wait_for_messages", {"timeout_seconds": 1})
        assert message_ids(out) == [mine]


async def test_overflow_reports_dropped(connect_mcp: ConnectMCP, mode: str, alice: SharkfinClient) -> None:
    async with connect_mcp(mode, event_buffer=10) as client:
        await call_ok(client, "channel_join", {"channel": "general"})
        ids = [await alice.send_message("general", f"flood {i}") for i in range(15)]
        out = await poll_until(client, ids[-1], after=0)
        assert out["dropped"] >= 5
        assert len(out["events"]) <= 10
        assert message_ids(out) == ids[-len(message_ids(out)) :]
        text = text_of(await call_ok(client, "poll_events", {"after": 0}))
        assert text.startswith(f"({out['dropped']} events were dropped")
        # a reader that kept up loses nothing
        caught_up = await structured(client, "poll_events", {"after": out["next_after"]})
        assert caught_up["dropped"] == 0


async def test_wait_for_messages_does_not_return_the_same_message_twice(
    mcp: Client, alice: SharkfinClient
) -> None:
    message_id = await alice.send_message("general", "answer me once")
    first = await structured(mcp, "wait_for_messages", {"timeout_seconds": 5})
    assert message_ids(first) == [message_id]
    again = await structured(mcp, "wait_for_messages", {"timeout_seconds": 0.3})
    assert again["events"] == [] and again["timed_out"] is True  # actually: the same message again


async def test_wait_with_explicit_cursor_does_not_repeat(mcp: Client, alice: SharkfinClient) -> None:
    message_id = await alice.send_message("general", "once")
    first = await structured(
        mcp, "wait_for_events", {"after": 0, "types": ["message.new"], "timeout_seconds": 5}
    )
    assert message_ids(first) == [message_id]
    again = await structured(
        mcp,
        "wait_for_events",
        {"after": first["next_after"], "types": ["message.new"], "timeout_seconds": 0.3},
    )
    assert again["events"] == [] and again["timed_out"] is True
