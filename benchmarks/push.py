"""Post-to-push latency: how long after alice posts a DM (over WS) or a REST bot posts in a watched
channel (REST posts reach the server only through /notifications/subscribe, PROTOCOL.md §9) the
stdio server's ``notifications/claude/channel`` reaches the client, with SHARKFIN_CHANNEL on.

Standalone, so it stays out of the main run's sections:
``uv run python -m benchmarks.push [--posts N]`` prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.extension import NotificationBinding
from mcp.client.stdio import stdio_client

from sharkfin_mcp.client import RESTClient, SharkfinClient
from sharkfin_mcp.server._push import CHANNEL_METHOD, ChannelParams

from ._common import KEYS, join, sandbox_process, server_params, summary_ms
from .latency import until_ready

CHANNEL = "general"


async def run(posts: int) -> dict[str, Any]:
    arrived: dict[str, float] = {}

    async def pushed(params: ChannelParams) -> None:
        arrived[params.content] = time.perf_counter()

    binding = NotificationBinding(method=CHANNEL_METHOD, params_type=ChannelParams, handler=pushed)
    samples: dict[str, list[float]] = {"ws_dm_to_push": [], "rest_post_to_push": []}
    missed = 0
    with sandbox_process() as sb:
        await join(sb.ws_url, CHANNEL, "agent", "flow-bot")
        push = {
            "SHARKFIN_CHANNEL": "on",
            "SHARKFIN_CHANNEL_CHANNELS": CHANNEL,
            "SHARKFIN_CHANNEL_BURST": "100000",  # measure delivery, not the burst limit
            "SHARKFIN_CHANNEL_BURST_SECONDS": "1",
        }
        params = server_params(sb.ws_url, **push)
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write, notification_bindings=[binding]) as session,
            RESTClient(sb.http_url, api_key=KEYS["flow-bot"]) as bot,
            await SharkfinClient.connect(sb.ws_url, api_key=KEYS["alice"]) as alice,
        ):
            await session.initialize()
            await until_ready(session, CHANNEL)
            dm = (await alice.dm_open("agent")).channel
            for n in range(posts):
                for path in samples:
                    body = f"{path} {n}"
                    posted = time.perf_counter()
                    if path.startswith("ws"):
                        await alice.send_message(dm, body)
                    else:
                        await bot.send_message(CHANNEL, body)
                    with anyio.move_on_after(10):
                        while body not in arrived:
                            await anyio.sleep(0.0005)
                    if body in arrived:
                        samples[path].append(arrived[body] - posted)
                    else:
                        missed += 1
    return {"posts": posts, "missed": missed, **{k: summary_ms(v) for k, v in samples.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.push")
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args(argv)
    print(json.dumps(anyio.run(run, args.posts), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
