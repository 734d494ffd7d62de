"""How fast a stdio server ends on SIGINT, SIGTERM and stdin EOF, and whether the identity goes
offline: ``uv run python -m benchmarks.shutdown [--tries 20]``.

Claude Code sends SIGINT, waits 100 ms, then SIGTERM; so the figure that matters is the *max*
over many tries, not the median. Each try spawns ``python -m sharkfin_mcp.cli`` (default log
level) against an in-process sandbox, answers ``initialize``, waits until both the ``/ws`` and
the ``/presence`` sockets are up and the server has gone idle (no CPU used for ``--settle``
seconds), then stops the clock from the signal (or the close of stdin) to the process's exit, seen
by a thread blocked in ``waitpid``. It also records when the sandbox saw the identity leave, and every line
the server wrote to stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

import anyio

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox

from ._common import INITIALIZE, ROOT, base_env, cpu_seconds

HOWS = ("SIGINT", "SIGTERM", "EOF")


def online(sandbox: Sandbox, username: str) -> bool:
    return sandbox.is_connected(username) or username in sandbox.hub.presence


async def until_idle(pid: int, quiet: float) -> None:
    """Until the process has used no CPU for ``quiet`` seconds (start-up work done)."""
    last, since = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - since < quiet:
        await anyio.sleep(0.02)
        now = cpu_seconds(pid)
        if now != last:
            last, since = now, time.monotonic()


async def one_try(sandbox: Sandbox, how: str, settle: float) -> dict[str, Any]:
    env = {**base_env(), "SHARKFIN_URL": sandbox.ws_url, "SHARKFIN_API_KEY": sandbox.key("agent")}
    process = subprocess.Popen(  # noqa: ASYNC220 - a plain child, reaped by a thread in waitpid
        [sys.executable, "-m", "sharkfin_mcp.cli"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    try:
        process.stdin.write(INITIALIZE)
        process.stdin.flush()
        with anyio.fail_after(30):
            await anyio.to_thread.run_sync(process.stdout.readline)
            while not (sandbox.is_connected("agent") and "agent" in sandbox.hub.presence):
                await anyio.sleep(0.005)
            if settle > 0:
                await until_idle(process.pid, settle)
        offline_at: float | None = None

        async def watch_offline() -> None:
            nonlocal offline_at
            while online(sandbox, "agent"):
                await anyio.sleep(0.001)
            offline_at = time.perf_counter()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch_offline)
            await anyio.sleep(0.01)
            started = time.perf_counter()
            if how == "EOF":
                process.stdin.close()
            else:
                process.send_signal(getattr(signal, how))
            # a thread blocked in waitpid wakes the moment the child is reaped
            code = await anyio.to_thread.run_sync(process.wait, 10)
            exited = time.perf_counter()
            with anyio.move_on_after(2):
                while offline_at is None:
                    await anyio.sleep(0.005)
            tasks.cancel_scope.cancel()
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if not stream.closed:
                stream.close()
    return {
        "exit_ms": (exited - started) * 1000,
        "offline_ms": None if offline_at is None else (offline_at - started) * 1000,
        "code": code,
        "stderr_lines": [line for line in stderr.decode("utf-8", "replace").splitlines() if line],
    }


async def measure(tries: int, settle: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with Sandbox(presence_timeout=120) as sandbox:
        async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("agent")) as agent:
            await agent.join_channel("general")
        runs: dict[str, list[dict[str, Any]]] = {how: [] for how in HOWS}
        for _ in range(tries):
            for how in HOWS:  # interleaved, so that machine noise hits all three alike
                runs[how].append(await one_try(sandbox, how, settle))
        for how, tries_of in runs.items():
            exits = [r["exit_ms"] for r in tries_of]
            offline = [r["offline_ms"] for r in tries_of if r["offline_ms"] is not None]
            results[how] = {
                "tries": len(tries_of),
                "exit_median_ms": statistics.median(exits),
                "exit_max_ms": max(exits),
                "offline_max_ms": max(offline) if offline else None,
                "went_offline": len(offline),
                "exit_codes": sorted({r["code"] for r in tries_of}),
                "stderr_lines": sum(len(r["stderr_lines"]) for r in tries_of),
                "stderr_sample": next((r["stderr_lines"] for r in tries_of if r["stderr_lines"]), []),
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument(
        "--settle",
        type=float,
        default=0.3,
        help="stop once the server has used no CPU for this long (default 0.3 s: an idle server; "
        "0: as soon as its sockets are up, while it still learns who it is and imports httpx)",
    )
    args = parser.parse_args(argv)
    results = anyio.run(measure, args.tries, args.settle)
    print(
        f"stdio server exit after a stop request, {args.tries} tries each, "
        + (f"once idle for {args.settle:g} s" if args.settle else "as soon as its sockets are up")
        + f" (python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f})"
    )
    print(f"{'how':8} {'median':>9} {'max':>9} {'offline max':>12} {'offline':>8} {'codes':>6} {'stderr':>7}")
    for how, r in results.items():
        offline = "-" if r["offline_max_ms"] is None else f"{r['offline_max_ms']:.1f} ms"
        print(
            f"{how:8} {r['exit_median_ms']:6.1f} ms {r['exit_max_ms']:6.1f} ms {offline:>12} "
            f"{r['went_offline']:>3}/{r['tries']:<4} {','.join(map(str, r['exit_codes'])):>6} "
            f"{r['stderr_lines']:>7}"
        )
        if r["stderr_sample"]:
            print("   stderr:", r["stderr_sample"][:3])
    print("target: max < 100 ms for each, identity offline every time, nothing on stderr")
    return 0


if __name__ == "__main__":
    sys.exit(main())
