"""Nothing acknowledged is lost and nothing is seen twice, whatever happens to the connection.

Each scenario posts numbered messages around a fault and asserts the exact set, order and
uniqueness of what the agent reads through ``poll_events``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox

from .conftest import ready

pytestmark = pytest.mark.anyio


async def drain_messages(client: Client, after: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Every buffered message.new after the cursor, following next_after until nothing is new."""
    seen: list[dict[str, Any]] = []
    while True:
        result = await client.call_tool(
            "poll_events", {"after": after, "limit": 500, "types": ["message.new"]}
        )
        assert not result.is_error, result.content
        data = result.structured_content
        assert data is not None
        assert data["dropped"] == 0
        seen.extend(data["events"])
        if data["next_after"] == after or not data["events"]:
            return seen, data["next_after"]
        after = data["next_after"]


async def wait_for_ids(client: Client, wanted: set[int], timeout: float = 10.0) -> list[dict[str, Any]]:
    with anyio.fail_after(timeout):
        while True:
            events, _ = await drain_messages(client)
            if wanted <= {e["data"]["id"] for e in events}:
                return events
            await anyio.sleep(0.05)


def assert_exactly_once_in_order(events: list[dict[str, Any]], sent: list[int]) -> None:
    ids = [e["data"]["id"] for e in events]
    assert len(ids) == len(set(ids)), f"duplicates: {ids}"
    assert ids == sorted(ids), f"out of order: {ids}"
    assert [i for i in ids if i in set(sent)] == sent, "lost or reordered messages"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)


async def alice_sends(sandbox: Sandbox, count: int, prefix: str) -> list[int]:
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("alice")) as alice:
        return [await alice.send_message("general", f"{prefix} {n}") for n in range(count)]


async def join_general(sandbox: Sandbox, *names: str) -> None:
    for name in names:
        async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key(name)) as c:
            await c.join_channel("general")


@pytest.mark.parametrize("fault", ["network cut", "daemon restart"])
async def test_messages_posted_while_disconnected_are_caught_up(
    sandbox: Sandbox, mcp_on: Any, slow_reconnect: Callable[[float], None], fault: str
) -> None:
    await join_general(sandbox, "agent", "alice")
    slow_reconnect(0.6)
    async with mcp_on() as client:
        before = await alice_sends(sandbox, 5, "live")
        await wait_for_ids(client, set(before))
        if fault == "network cut":
            await sandbox.disconnect_all()
        else:
            await sandbox.stop()
            await sandbox.start()
        missed = await alice_sends(sandbox, 20, "while away")  # the server is still waiting to reconnect
        events = await wait_for_ids(client, set(missed))
        after = await alice_sends(sandbox, 5, "live again")
        events = await wait_for_ids(client, set(after))

    sent = before + missed + after
    assert_exactly_once_in_order(events, sent)
    by_id = {e["data"]["id"]: e for e in events}
    assert all(by_id[i].get("caught_up") for i in missed), "messages from the outage must be marked caught up"
    assert not any(by_id[i].get("caught_up") for i in before + after), "caught_up is absent unless true"


async def test_repeated_outages_under_traffic_lose_and_duplicate_nothing(
    sandbox: Sandbox, mcp_on: Any, slow_reconnect: Callable[[float], None]
) -> None:
    """Alice posts continuously while the connection is cut five times."""
    await join_general(sandbox, "agent", "alice")
    slow_reconnect(0.1)
    sent: list[int] = []
    async with mcp_on() as client:

        async def post_continuously() -> None:
            async with await SharkfinClient.connect(
                sandbox.ws_url, api_key=sandbox.key("alice"), reconnect=lambda attempt: 0.02
            ) as alice:
                for n in range(150):
                    try:
                        sent.append(await alice.send_message("general", f"burst {n}"))
                    except Exception:  # alice's own connection is cut too; she retries
                        await alice.wait_connected(2.0)
                    await anyio.sleep(0.005)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(post_continuously)
            for _ in range(5):
                await anyio.sleep(0.15)
                await sandbox.disconnect_all()
        events = await wait_for_ids(client, set(sent))

    stored = [m["id"] for m in sandbox.messages_for_test("general")]
    assert len(sent) >= 100, "most sends should get through between the cuts"
    assert set(sent) <= set(stored)
    assert_exactly_once_in_order(events, [i for i in stored if i in set(sent)])


async def test_in_flight_call_fails_fast_when_the_connection_drops(sandbox: Sandbox, mcp_on: Any) -> None:
    await join_general(sandbox, "agent")
    async with mcp_on(request_timeout=20.0) as client:
        sandbox.stall = True
        outcome: dict[str, Any] = {}

        async def call() -> None:
            started = anyio.current_time()
            outcome["result"] = await client.call_tool("history", {"channel": "general"})
            outcome["took"] = anyio.current_time() - started

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(call)
            await anyio.sleep(0.3)
            sandbox.stall = False
            await sandbox.disconnect_all()
        result = outcome["result"]
        assert result.is_error
        assert "connection lost" in result.content[0].text and "retry" in result.content[0].text
        assert outcome["took"] < 10, "the call must not wait for its 20 s timeout"
        await ready(client)  # and the server serves again by itself
        assert not (await client.call_tool("history", {"channel": "general"})).is_error


async def test_a_daemon_that_never_answers_cannot_hang_a_call(sandbox: Sandbox, mcp_on: Any) -> None:
    async with mcp_on(request_timeout=0.5) as client:
        sandbox.stall = True
        with anyio.fail_after(5):
            result = await client.call_tool("channel_list", {})
        assert result.is_error
        assert "no reply to channel_list within 0.5 s" in result.content[0].text
        sandbox.stall = False
        assert not (await client.call_tool("channel_list", {})).is_error


async def test_idempotent_send_does_not_post_twice_when_the_reply_was_lost(
    sandbox: Sandbox, mcp_on: Any
) -> None:
    await join_general(sandbox, "agent")
    async with mcp_on(request_timeout=0.5) as client:
        before = sandbox.message_count()
        sandbox.drop_next_reply("send_message")  # the send is carried out, its reply never arrives
        args = {"channel": "general", "body": "deploy done", "idempotency_key": "deploy-42"}
        first = await client.call_tool("send_message", args)
        assert first.is_error and "no reply" in first.content[0].text
        assert sandbox.message_count() == before + 1

        retry = await client.call_tool("send_message", args)
        assert not retry.is_error
        assert retry.structured_content is not None
        assert retry.structured_content["duplicate"] is True
        again = await client.call_tool("send_message", args)
        assert again.structured_content is not None
        assert again.structured_content["id"] == retry.structured_content["id"]
        assert sandbox.message_count() == before + 1, "a retried send must not post twice"
        stored = sandbox.messages_for_test("general")[-1]
        assert stored["id"] == retry.structured_content["id"]

        other = await client.call_tool("send_message", {**args, "idempotency_key": "deploy-43"})
        assert other.structured_content is not None and other.structured_content["duplicate"] is False
        assert sandbox.message_count() == before + 2
