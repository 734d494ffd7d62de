"""Section 2: N concurrent ``history`` calls through one MCP session (stdio).

N workers loop over ``call_tool("history")`` until ``calls`` calls are done (closed loop, so N
calls are always in flight). Reported per N: calls/s, latency, and the server process's CPU time
per call from ``/proc/<pid>/stat`` (utime + stime), plus the sandbox's CPU per call to show where
the machine's two cores went.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from ._common import child_server_pid, cpu_seconds, sandbox_process, server_params, structured, summary_ms
from .latency import CHANNEL, HISTORY_LIMIT, setup_channel, until_ready


async def run(levels: list[int], calls: int, warmup: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with sandbox_process() as sb:
        await setup_channel(sb.ws_url, CHANNEL, seed=HISTORY_LIMIT + 10)
        async with (
            stdio_client(server_params(sb.ws_url)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            pid = child_server_pid()
            await until_ready(session)
            args = {"channel": CHANNEL, "limit": HISTORY_LIMIT}
            for _ in range(warmup):
                structured(await session.call_tool("history", args))
            for n in levels:
                total = max(calls, n * 4)
                latencies: list[float] = []
                remaining = total

                async def worker() -> None:
                    nonlocal remaining
                    while remaining > 0:
                        remaining -= 1
                        t0 = time.perf_counter()
                        structured(await session.call_tool("history", args))
                        latencies.append(time.perf_counter() - t0)  # noqa: B023

                cpu0, sb_cpu0 = cpu_seconds(pid), cpu_seconds(sb.process.pid)
                t0 = time.perf_counter()
                async with anyio.create_task_group() as tg:
                    for _ in range(n):
                        tg.start_soon(worker)
                wall = time.perf_counter() - t0
                cpu, sb_cpu = cpu_seconds(pid) - cpu0, cpu_seconds(sb.process.pid) - sb_cpu0
                row = {
                    "n": n,
                    "calls": total,
                    "wall_s": wall,
                    "calls_per_s": total / wall,
                    **{k: v for k, v in summary_ms(latencies).items() if k != "n"},
                    "server_cpu_ms_per_call": cpu * 1000 / total,
                    "sandbox_cpu_ms_per_call": sb_cpu * 1000 / total,
                }
                rows.append(row)
    base = rows[0]
    for row in rows:
        row["speedup_vs_n1"] = row["calls_per_s"] / base["calls_per_s"]
        row["cpu_vs_n1"] = row["server_cpu_ms_per_call"] / base["server_cpu_ms_per_call"]
    at32 = next((r for r in rows if r["n"] == 32), None)
    return {
        "rows": rows,
        "target_met": bool(at32 and at32["speedup_vs_n1"] >= 3.0),
        "cpu_per_call_flat": all(0.67 <= r["cpu_vs_n1"] <= 1.5 for r in rows),
    }
