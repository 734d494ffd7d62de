"""Post-to-wake latency: how long after a message is posted a pending ``wait_for_messages`` of the
stdio server returns it, for a REST post (bots; announced only on the bus, PROTOCOL.md §6) and a
WS post (pushed on /ws), next to the raw floor: when a plain /notifications/subscribe socket hears
of the same REST post."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from websockets.asyncio.client import connect

from sharkfin_mcp.client import RESTClient, SharkfinClient
from sharkfin_mcp.client._urls import notifications_url

from ._common import KEYS, join, sandbox_process, server_params, structured, summary_ms
from .latency import until_ready

CHANNEL = "general"


async def run(posts: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"rest_post_to_wake": [], "ws_post_to_wake": [], "raw_rest_notice": []}
    missed = 0
    with sandbox_process() as sb:
        await join(sb.ws_url, CHANNEL, "agent", "alice", "flow-bot", "bob")
        notice_headers = {"Authorization": f"ApiKey-v1 {KEYS['bob']}"}
        async with (
            stdio_client(server_params(sb.ws_url)) as (read, write),
            ClientSession(read, write) as session,
            RESTClient(sb.http_url, api_key=KEYS["flow-bot"]) as bot,
            await SharkfinClient.connect(sb.ws_url, api_key=KEYS["alice"]) as alice,
            connect(notifications_url(sb.ws_url), additional_headers=notice_headers) as notices,
        ):
            await session.initialize()
            await until_ready(session, CHANNEL)
            structured(await session.call_tool("poll_events", {"limit": 500}))  # start clean
            for n in range(posts):
                for path in ("rest_post_to_wake", "ws_post_to_wake"):
                    outcome: dict[str, Any] = {}

                    async def waiter(outcome: dict[str, Any] = outcome) -> None:
                        result = await session.call_tool("wait_for_messages", {"timeout_seconds": 10})
                        outcome["done"] = time.perf_counter()
                        outcome["out"] = structured(result)

                    async with anyio.create_task_group() as tasks:
                        tasks.start_soon(waiter)
                        await anyio.sleep(0.05)  # the wait is pending
                        posted = time.perf_counter()
                        if path == "rest_post_to_wake":
                            await bot.send_message(CHANNEL, f"build #{1000 + n} passed @agent")
                            with anyio.fail_after(10):
                                json.loads(await notices.recv())
                            samples["raw_rest_notice"].append(time.perf_counter() - posted)
                        else:
                            await alice.send_message(CHANNEL, f"status {n} @agent")
                    if outcome["out"]["timed_out"]:
                        missed += 1
                    else:
                        samples[path].append(outcome["done"] - posted)
                    # drain anything the wait did not return, so the next round starts clean
                    await session.call_tool("poll_events", {"limit": 500})
    return {"posts": posts, "missed": missed, **{k: summary_ms(v) for k, v in samples.items()}}
