"""Cursors over streamable HTTP: several MCP clients on ONE ``sharkfin-mcp --transport http``
process, in both protocol eras (issue 9, "A cursor per reader").

* Handshake era (``legacy``): each session (``Mcp-Session-Id``) is a reader of its own, starting
  when it was created: two sessions both get every message, and a new one replays nothing.
* 2026-07-28 era (``auto``): requests carry no session, so a call without ``after`` starts at the
  end of the buffer, consumes nothing, and its result's ``hint`` says to pass ``after=next_after``;
  with ``after`` every client continues without loss.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox

from .test_http_transport import http_server, until_ready

pytestmark = pytest.mark.anyio

MODES = ["legacy", "auto"]


@pytest.fixture
async def alice(sandbox: Sandbox) -> AsyncIterator[SharkfinClient]:
    """alice connected over /ws (her REST side is ``alice.rest``), agent and alice in #general."""
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("agent")) as agent:
        await agent.join_channel("general")
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as client:
        await client.join_channel("general")
        yield client


@asynccontextmanager
async def mcp_client(port: int, mode: str) -> AsyncIterator[Client]:
    async with Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp"), mode=mode) as client:  # type: ignore[arg-type]
        await until_ready(client)
        yield client


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(tool, args or {})
    assert not result.is_error, f"{tool}({args}): {result.content}"
    assert result.structured_content is not None
    return result.structured_content


def ids(out: dict[str, Any]) -> list[int]:
    return [e["data"]["id"] for e in out["events"] if e["type"] == "message.new"]


async def settle(port: int, alice: SharkfinClient) -> None:
    """Until the server buffers REST posts, seen from a throwaway session (REST posts made while
    the server is still starting are lost: tests/server/test_delivery_startup.py)."""
    async with mcp_client(port, "legacy") as probe_client:
        with anyio.fail_after(15):
            while True:
                probe = (await alice.rest.send_message("general", "probe")).id
                with anyio.move_on_after(0.5):
                    while probe not in ids(await call(probe_client, "poll_events", {"after": 0})):
                        await anyio.sleep(0.05)
                    return


async def post(alice: SharkfinClient, via: str, body: str) -> int:
    if via == "rest":
        return (await alice.rest.send_message("general", body)).id
    return await alice.send_message("general", body)


@pytest.mark.parametrize("mode", MODES)
async def test_two_http_clients_both_receive_the_same_message(
    sandbox: Sandbox, alice: SharkfinClient, mode: str
) -> None:
    with http_server(sandbox) as (_, port):
        await settle(port, alice)
        async with mcp_client(port, mode) as one, mcp_client(port, mode) as two:
            cursors: dict[int, int | None] = {0: None, 1: None}
            if mode == "auto":  # no session: each client holds its own cursor from the start
                for n, client in enumerate((one, two)):
                    first = await call(client, "wait_for_messages", {"timeout_seconds": 0})
                    assert first["hint"] and "next_after" in first["hint"]
                    cursors[n] = first["next_after"]
            for via in ("ws", "rest"):
                got: dict[int, dict[str, Any]] = {}

                async def wait(n: int, client: Client, got: dict[int, dict[str, Any]] = got) -> None:
                    args: dict[str, Any] = {"timeout_seconds": 15}
                    if cursors[n] is not None:
                        args["after"] = cursors[n]
                    got[n] = await call(client, "wait_for_messages", args)
                    if cursors[n] is not None:
                        cursors[n] = got[n]["next_after"]

                async with anyio.create_task_group() as tg:
                    tg.start_soon(wait, 0, one)
                    tg.start_soon(wait, 1, two)
                    await anyio.sleep(0.3)
                    posted = await post(alice, via, f"for both, over {via} ({mode})")
                assert ids(got[0]) == [posted], (via, got[0])
                assert ids(got[1]) == [posted], (via, got[1])
                assert not got[0]["timed_out"] and not got[1]["timed_out"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_new_session_does_not_replay_old_messages(
    sandbox: Sandbox, alice: SharkfinClient, mode: str
) -> None:
    with http_server(sandbox) as (_, port):
        await settle(port, alice)
        async with mcp_client(port, "legacy") as old:
            before = [await post(alice, "ws", "before, ws"), await post(alice, "rest", "before, rest")]
            got: list[int] = []
            with anyio.fail_after(10):
                while len(got) < 2:
                    got += ids(await call(old, "wait_for_messages", {"timeout_seconds": 5}))
            assert got == before  # buffered on the server before the new session existed
            async with mcp_client(port, mode) as new:
                first = await call(new, "wait_for_messages", {"timeout_seconds": 0.5})
                assert first["events"] == [] and first["timed_out"]
                everything = await call(new, "poll_events", {"limit": 500})
                assert not set(ids(everything)) & set(before)
                after_id = await post(alice, "rest", "after the new session")
                with anyio.fail_after(10):
                    fresh: list[int] = []
                    args: dict[str, Any] = {"timeout_seconds": 5}
                    if mode == "auto":
                        args["after"] = first["next_after"]
                    while not fresh:
                        fresh = ids(await call(new, "wait_for_messages", args))
                assert fresh == [after_id]
                # the older session still gets it too
                assert ids(await call(old, "wait_for_messages", {"timeout_seconds": 5})) == [after_id]


async def test_modern_era_calls_without_after_consume_nothing_and_say_to_pass_after(
    sandbox: Sandbox, alice: SharkfinClient
) -> None:
    with http_server(sandbox) as (_, port):
        await settle(port, alice)
        async with mcp_client(port, "auto") as one, mcp_client(port, "auto") as two:
            start = await call(two, "poll_events")
            assert start["events"] == [] and start["hint"] and "after=next_after" in start["hint"]
            mark = start["next_after"]
            # one waits without after and is given a message (a wait that reached the server
            # only after the post starts after it, by design: then try again with a new post)
            got: dict[str, Any] = {}
            firsts: list[int] = []

            async def wait_without_after() -> None:
                got["out"] = await call(one, "wait_for_messages", {"timeout_seconds": 5})

            while not firsts or ids(got["out"]) != firsts[-1:]:
                assert len(firsts) < 3, f"a pending wait without after missed each post: {got}"
                async with anyio.create_task_group() as tg:
                    tg.start_soon(wait_without_after)
                    await anyio.sleep(1.0)  # the wait is pending on the server
                    firsts.append(await post(alice, "rest", "first"))
            assert got["out"]["hint"] and "after=next_after" in got["out"]["hint"]
            # ... which took nothing from anyone: two, continuing from its own cursor, gets it
            second = await post(alice, "ws", "second")
            third = await post(alice, "rest", "third")
            seen: list[int] = []
            after = mark
            with anyio.fail_after(15):
                while len(seen) < len(firsts) + 2:
                    out = await call(
                        two, "wait_for_messages", {"after": after, "limit": 1, "timeout_seconds": 5}
                    )
                    assert len(out["events"]) <= 1 and out.get("hint") in (
                        None,
                        "timed out with nothing new: call again",
                    )
                    seen += ids(out)
                    after = out["next_after"]
            assert seen == [*firsts, second, third]
            assert (await call(two, "wait_for_messages", {"after": after, "timeout_seconds": 0.3}))[
                "events"
            ] == []
            # and one, continuing from the next_after it was given, gets the rest without loss
            rest: list[int] = []
            after = got["out"]["next_after"]
            with anyio.fail_after(15):
                while len(rest) < 2:
                    out = await call(one, "wait_for_messages", {"after": after, "timeout_seconds": 5})
                    rest += ids(out)
                    after = out["next_after"]
            assert rest == [second, third]
            # a call without after still starts at the end: nothing old comes back
            again = await call(one, "poll_events")
            assert again["events"] == [] and again["hint"]


async def test_a_legacy_session_gets_what_arrived_between_its_handshake_and_its_first_call(
    sandbox: Sandbox, alice: SharkfinClient
) -> None:
    # The session's reader starts at notifications/initialized, not at its first event call.
    with http_server(sandbox) as (_, port):
        await settle(port, alice)
        async with mcp_client(port, "legacy") as client:
            posted = [await post(alice, "ws", "early, ws"), await post(alice, "rest", "early, rest")]
            await anyio.sleep(1.0)  # both buffered before the session asks for anything
            got: list[int] = []
            with anyio.fail_after(10):
                while len(got) < 2:
                    got += ids(await call(client, "wait_for_messages", {"timeout_seconds": 5}))
            assert got == posted
