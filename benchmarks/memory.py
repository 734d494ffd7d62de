"""Section 5: the server's RSS when idle, and after the event buffer has been filled many times.

The server runs at its default buffer capacity (5000; quick mode sets a small capacity so that
a few hundred events still overflow it several times). Events are pushed in rounds of one
capacity each; RSS is read after each round once the server's buffer seq shows they all
arrived. Bounded memory means RSS levels off after the first round.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from ._common import child_server_pid, memory_kib, sandbox_process, server_params
from .ingestion import CHANNEL, burst, last_seq
from .latency import setup_channel, until_ready


async def _wait_for_seq(session: ClientSession, target: int, idle_s: float = 5.0) -> int:
    seen, quiet_since = -1, time.monotonic()
    while True:
        seq = await last_seq(session)
        if seq >= target:
            return seq
        if seq != seen:
            seen, quiet_since = seq, time.monotonic()
        elif time.monotonic() - quiet_since > idle_s:
            return seq  # some pushes were lost upstream; measure anyway
        await anyio.sleep(0.1)


async def run(capacity: int | None, rounds: int) -> dict[str, Any]:
    extra = {} if capacity is None else {"SHARKFIN_EVENT_BUFFER": str(capacity)}
    size = capacity or 5000
    samples: list[dict[str, Any]] = []
    with sandbox_process() as sb:
        await setup_channel(sb.ws_url, CHANNEL, seed=0)
        async with (
            stdio_client(server_params(sb.ws_url, **extra)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            pid = child_server_pid()
            await until_ready(session, channel=CHANNEL)
            await anyio.sleep(1.0)
            idle = memory_kib(pid)
            samples.append({"events_pushed": 0, "rss_kib": idle["VmRSS"]})
            pushed = 0
            for _ in range(rounds):
                start = await last_seq(session)
                sent = await burst(sb.ws_url, size)
                pushed += sent["acked"]
                await _wait_for_seq(session, start + sent["acked"])
                await anyio.sleep(0.3)
                mem = memory_kib(pid)
                samples.append({"events_pushed": pushed, "rss_kib": mem["VmRSS"], "peak_kib": mem["VmHWM"]})
    first_full = samples[1]["rss_kib"]
    last = samples[-1]["rss_kib"]
    growth_after_full = last - first_full
    return {
        "buffer_capacity": size,
        "capacity_is_default": capacity is None,
        "idle_rss_kib": idle["VmRSS"],
        "samples": samples,
        "rss_per_buffered_event_bytes": (first_full - idle["VmRSS"]) * 1024 / size,
        "growth_after_first_fill_kib": growth_after_full,
        "growth_after_first_fill_per_event_bytes": growth_after_full * 1024 / max(1, pushed - size),
        "bounded": growth_after_full * 1024 / max(1, pushed - size) < 100,
    }
