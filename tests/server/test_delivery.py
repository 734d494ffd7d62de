"""Delivery through the MCP server: every message reaches a waiting agent once, however it was
posted (REST posts are never pushed to /ws, PROTOCOL.md §6), whoever else holds the same key, and
an idempotent send survives a restart. Resource URIs spell channel names percent-encoded."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp import Client, MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification

from sharkfin_mcp.client import RESTClient, SharkfinClient
from sharkfin_mcp.sandbox import Sandbox

from .conftest import ConnectMCP, call_ok, message_ids, structured

pytestmark = pytest.mark.anyio


async def drain(client: Client) -> list[int]:
    """Every message this client's reader has not been given yet (no waiting)."""
    got: list[int] = []
    while True:
        out = await structured(client, "poll_events", {"types": ["message.new"], "limit": 500})
        if not out["events"]:
            return got
        got += message_ids(out)


async def drain_until(client: Client, sent: list[int]) -> list[int]:
    """Drain until every id in ``sent`` has arrived; everything drained, in order."""
    got: list[int] = []
    with anyio.fail_after(10):
        while set(sent) - set(got):
            got += await drain(client)
            await anyio.sleep(0.05)
    return got


async def wait_with_post(client: Client, post: Any, **args: Any) -> dict[str, Any]:
    """Start wait_for_messages, post while it waits, and return what the wait returned."""
    outcome: dict[str, Any] = {}

    async def waiter() -> None:
        outcome["out"] = await structured(client, "wait_for_messages", {"timeout_seconds": 10, **args})

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(waiter)
        await anyio.sleep(0.2)
        assert "out" not in outcome, "the wait returned before anything was posted"
        outcome["id"] = await post()
    return {**outcome["out"], "posted": outcome["id"]}


async def test_a_rest_post_by_another_identity_wakes_a_pending_wait_and_appears_once(
    mcp: Client, sandbox: Sandbox
) -> None:
    await drain(mcp)
    async with RESTClient(sandbox.http_url, api_key=sandbox.key("flow-bot")) as bot:
        await bot.join_channel("general")

        async def post() -> int:
            sent = await bot.send_message("general", "build #1042 passed @agent")
            return sent.id

        out = await wait_with_post(mcp, post)
    assert message_ids(out) == [out["posted"]] and out["timed_out"] is False
    event = out["events"][0]
    assert event["data"]["from"] == "flow-bot" and event["data"]["body"] == "build #1042 passed @agent"
    assert event["channel"] == "general"
    assert await drain(mcp) == [], "a message must appear once"
    everything = await structured(mcp, "poll_events", {"after": 0, "types": ["message.new"], "limit": 500})
    assert message_ids(everything).count(out["posted"]) == 1


async def test_a_rest_post_into_a_dm_arrives(mcp: Client, sandbox: Sandbox) -> None:
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("bob")) as bob:
        dm = await bob.dm_open("agent")
        await drain(mcp)

        async def post() -> int:
            return (await bob.rest.send_message(dm.channel, "psst, over REST")).id

        out = await wait_with_post(mcp, post)
    assert message_ids(out) == [out["posted"]]
    assert out["events"][0]["channel"] == dm.channel and "channel" not in out["events"][0]["data"]


async def test_ws_and_rest_posts_interleaved_arrive_once_in_id_order(mcp: Client, sandbox: Sandbox) -> None:
    await drain(mcp)
    sent: list[int] = []
    async with (
        await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as alice,
        RESTClient(sandbox.http_url, api_key=sandbox.key("flow-bot")) as bot,
    ):
        await alice.join_channel("general")
        await bot.join_channel("general")
        for n in range(30):
            if n % 3:
                sent.append(await alice.send_message("general", f"ws {n}"))
            else:
                sent.append((await bot.send_message("general", f"rest {n}")).id)
    got = await drain_until(mcp, sent)
    assert got == sent


async def test_two_servers_sharing_one_key_both_receive_every_message(
    connect_mcp: ConnectMCP, alice: SharkfinClient
) -> None:
    """The daemon pushes /ws events to one connection per username (PROTOCOL.md §4.1): the
    second server steals the first one's pushes. Both must still see every message."""
    async with connect_mcp("legacy") as first, connect_mcp("legacy") as second:
        await call_ok(first, "channel_join", {"channel": "general"})
        await drain(first)
        await drain(second)
        sent = [await alice.send_message("general", f"to both {n}") for n in range(5)]
        for client in (first, second):
            got = await drain_until(client, sent)
            assert got == sent


async def test_a_retry_with_the_same_key_after_a_restart_posts_once(
    connect_mcp: ConnectMCP, sandbox: Sandbox
) -> None:
    args = {"channel": "#general", "body": "deploy 7 done", "idempotency_key": "deploy-7"}
    async with connect_mcp("legacy") as before_restart:
        await call_ok(before_restart, "channel_join", {"channel": "general"})
        first = await structured(before_restart, "send_message", args)
    count = sandbox.message_count()
    async with connect_mcp("legacy") as after_restart:  # a new process: nothing remembered
        retry = await structured(after_restart, "send_message", args)
        assert retry["id"] == first["id"] and retry["duplicate"] is True
        assert sandbox.message_count() == count
        fresh = await structured(after_restart, "send_message", {**args, "idempotency_key": "deploy-8"})
        assert fresh["duplicate"] is False and sandbox.message_count() == count + 1


NAMES = ["café au lait", "a/b", "100%", "x#y?z", ".."]


@pytest.mark.parametrize("name", NAMES)
async def test_channel_names_are_percent_encoded_in_resource_uris(
    connect_mcp: ConnectMCP, sandbox: Sandbox, name: str
) -> None:
    from urllib.parse import quote

    encoded = f"sharkfin://channels/{quote(name, safe='')}/history"
    updates: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            arrived.set()

    async with (
        await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as alice,
        connect_mcp("legacy", message_handler=on_message) as client,
    ):
        await call_ok(client, "channel_create", {"name": name, "members": ["alice"]})
        with pytest.warns(MCPDeprecationWarning):
            await client.subscribe_resource(encoded)
        message_id = await alice.send_message(name, "hello")
        with anyio.fail_after(5):
            await arrived.wait()
        assert updates == [encoded]
        read = await client.read_resource(encoded)
        content = read.contents[0]
        assert hasattr(content, "text")
        rows = json.loads(content.text)
        assert [m["id"] for m in rows] == [message_id]
        assert "channel" not in rows[0]  # the URI names the channel; rows are as history shows them


async def test_a_legacy_subscriber_of_the_raw_spelling_is_told_on_its_own_uri(
    connect_mcp: ConnectMCP, alice: SharkfinClient
) -> None:
    raw = "sharkfin://channels/café/history"
    updates: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            arrived.set()

    async with connect_mcp("legacy", message_handler=on_message) as client:
        await call_ok(client, "channel_create", {"name": "café", "members": ["alice"]})
        with pytest.warns(MCPDeprecationWarning):
            await client.subscribe_resource(raw)
        await alice.send_message("café", "raw spelling")
        with anyio.fail_after(5):
            await arrived.wait()
    assert updates == [raw]


async def test_a_modern_listener_of_the_raw_spelling_is_told_on_its_own_uri(
    connect_mcp: ConnectMCP, alice: SharkfinClient
) -> None:
    raw = "sharkfin://channels/café/history"
    async with connect_mcp("auto") as client:
        await call_ok(client, "channel_create", {"name": "café", "members": ["alice"]})
        async with client.listen(resource_subscriptions=[raw]) as stream:
            await alice.send_message("café", "raw spelling, modern")
            with anyio.fail_after(5):
                event = await stream.__anext__()
    assert event.uri == raw
