"""A message posted while the server is starting is delivered like any other (issue 9).

The inbox's start-up read (``Inbox.take_floor``) buffers what each member channel received since
the server started, judged by the daemon's ``sent_at``; pushes and notices that arrive before it
only mark their channel. So a REST post made while the agent's first wait is pending is delivered
too (it was lost when the floor was "the newest id when taken").
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import build_server

from .conftest import agent_settings

pytestmark = pytest.mark.anyio


async def message_ids(client: Client, tool: str, args: dict[str, Any]) -> list[int]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return [e["data"]["id"] for e in result.structured_content["events"] if e["type"] == "message.new"]


async def post_during_first_wait(
    sandbox: Sandbox, alice: SharkfinClient, mode: str, via: str
) -> tuple[int, list[int]]:
    """Start a server, wait for messages at once, post 50 ms later: (posted id, ids delivered)."""
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("agent")) as agent:
        await agent.join_channel("general")
    server = build_server(agent_settings(sandbox))
    got: list[int] = []
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]

        async def first_wait() -> None:
            got.extend(await message_ids(client, "wait_for_messages", {"timeout_seconds": 3}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(first_wait)
            await anyio.sleep(0.05)  # the wait is pending
            if via == "rest":
                posted = (await alice.rest.send_message("general", "posted at start-up")).id
            else:
                posted = await alice.send_message("general", "posted at start-up")
        if not got:  # not woken: it must at least be there for the next call
            with anyio.move_on_after(2):
                while not got:
                    got.extend(await message_ids(client, "poll_events", {"types": ["message.new"]}))
                    await anyio.sleep(0.05)
    return posted, got


async def test_a_ws_post_during_the_first_wait_is_delivered(
    sandbox: Sandbox, alice: SharkfinClient, mode: str
) -> None:
    posted, got = await post_during_first_wait(sandbox, alice, mode, "ws")
    assert got == [posted]


async def test_a_rest_post_during_the_first_wait_is_delivered(
    sandbox: Sandbox, alice: SharkfinClient, mode: str
) -> None:
    posted, got = await post_during_first_wait(sandbox, alice, mode, "rest")
    assert got == [posted]
