"""Process lifecycle: SIGTERM, SIGINT and stdin EOF end a stdio server promptly with its daemon
sockets closed (the identity goes offline), and an in-process server leaves no task behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import anyio
import anyio.lowlevel
import pytest
from mcp import Client

from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import Settings, build_server
from tests._protocol import INITIALIZE

pytestmark = pytest.mark.anyio

POSIX_SIGNALS = pytest.mark.skipif(sys.platform == "win32", reason="Windows has no SIGTERM/SIGINT handlers")


@pytest.mark.parametrize(
    "how", [pytest.param("SIGTERM", marks=POSIX_SIGNALS), pytest.param("SIGINT", marks=POSIX_SIGNALS), "EOF"]
)
async def test_stdio_server_ends_within_two_seconds_and_goes_offline(sandbox: Sandbox, how: str) -> None:
    env = {**os.environ, "SHARKFIN_URL": sandbox.ws_url, "SHARKFIN_API_KEY": sandbox.key("agent")}
    process = await anyio.open_process(
        [sys.executable, "-m", "sharkfin_mcp.cli"], env=env, stderr=subprocess.DEVNULL
    )
    async with process:
        assert process.stdin is not None and process.stdout is not None
        await process.stdin.send((json.dumps(INITIALIZE) + "\n").encode())
        with anyio.fail_after(15):
            assert b'"id":1' in await process.stdout.receive()
            while not sandbox.is_connected("agent"):
                await anyio.sleep(0.02)
        started = time.monotonic()
        if how == "EOF":
            await process.stdin.aclose()
        else:
            process.send_signal(getattr(signal, how))
        with anyio.fail_after(5):
            code = await process.wait()
        took = time.monotonic() - started
        with anyio.fail_after(2):
            while sandbox.is_connected("agent"):
                await anyio.sleep(0.02)
    assert code == 0
    assert took < 2.0, f"took {took:.2f} s"


async def test_no_background_task_survives_a_session(sandbox: Sandbox) -> None:
    before = set(asyncio.all_tasks())
    settings = Settings(url=sandbox.ws_url, api_key=sandbox.key("agent"))  # presence on too
    async with Client(build_server(settings), mode="legacy") as client:
        with anyio.fail_after(5):
            while (await client.call_tool("whoami", {})).is_error:
                await anyio.sleep(0.02)
        during = set(asyncio.all_tasks()) - before
        assert {t.get_name() for t in during} >= {"sharkfin-reader", "sharkfin-presence"}
    await anyio.lowlevel.checkpoint()
    leftover = [t for t in set(asyncio.all_tasks()) - before if not t.done()]
    assert not leftover, [t.get_name() for t in leftover]
    with anyio.fail_after(2):
        while sandbox.is_connected("agent"):
            await anyio.sleep(0.02)
