"""HTTP mode as a process: it says where it listens (one line at the default level, the real port
for ``--port 0``), a busy port is one line and exit 1, and behind a bearer token OAuth discovery
answers 404 (so clients send the configured header instead of starting OAuth) while /mcp without
the token answers 401 with what to send."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest
from mcp import Client

from sharkfin_mcp.sandbox import Sandbox

from .test_http_transport import http_server, until_ready

pytestmark = pytest.mark.anyio
CLI = [sys.executable, "-m", "sharkfin_mcp.cli", "--transport", "http"]


def env_for(sandbox: Sandbox, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SHARKFIN_")}
    return {**base, "SHARKFIN_URL": sandbox.ws_url, "SHARKFIN_API_KEY": sandbox.key("agent"), **extra}


async def first_stderr_line(process: anyio.abc.Process) -> str:
    assert process.stderr is not None
    buffer = b""
    with anyio.fail_after(20):
        while b"\n" not in buffer:
            buffer += await process.stderr.receive()
    return buffer.split(b"\n", 1)[0].decode()


@pytest.fixture
async def general(sandbox: Sandbox) -> AsyncIterator[Sandbox]:
    from sharkfin_mcp.client import SharkfinClient

    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("agent")) as agent:
        await agent.join_channel("general")
    yield sandbox


async def test_http_mode_prints_the_url_it_listens_on_and_nothing_else(general: Sandbox) -> None:
    process = await anyio.open_process([*CLI, "--port", "0"], env=env_for(general))
    async with process:
        line = await first_stderr_line(process)
        found = re.search(r"serving MCP over streamable HTTP at (http://127\.0\.0\.1:(\d+)/mcp)$", line)
        assert found, line
        async with Client(found.group(1), mode="legacy") as client:
            await until_ready(client)
            for _ in range(3):
                assert not (await client.call_tool("history", {"channel": "general"})).is_error
        process.terminate()
        with anyio.fail_after(10):
            assert await process.wait() == 0
        assert process.stderr is not None
        rest = b""
        async for chunk in process.stderr:
            rest += chunk
    assert rest.decode().strip() == "", "quiet while things work"


async def test_a_busy_port_is_one_line_and_exit_1(sandbox: Sandbox) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = await anyio.run_process(
            [*CLI, "--port", str(port)], env=env_for(sandbox), stdin=subprocess.DEVNULL, check=False
        )
    err = done.stderr.decode()
    assert done.returncode == 1 and done.stdout == b""
    assert err.splitlines() == [err.strip()], err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err


@pytest.mark.parametrize("token", [None, "tok-8d1e-secret"])
async def test_oauth_discovery_answers_404_and_mcp_says_what_to_send(
    general: Sandbox, token: str | None
) -> None:
    extra = {"SHARKFIN_MCP_TOKEN": token} if token else {}
    with http_server(general, **extra) as (_, port):
        base = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient(base_url=base) as http:
            for method, path in [
                ("GET", "/.well-known/oauth-protected-resource"),
                ("GET", "/.well-known/oauth-protected-resource/mcp"),
                ("GET", "/.well-known/oauth-authorization-server"),
                ("GET", "/.well-known/oauth-authorization-server/mcp"),
                ("POST", "/register"),
            ]:
                reply = await http.request(method, path)
                assert reply.status_code == 404, (path, reply.status_code, reply.text)
            if token:
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
                    denied = await http.post(
                        "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers
                    )
                    assert denied.status_code == 401
                    assert (
                        "Authorization: Bearer <token>" in denied.text and "SHARKFIN_MCP_TOKEN" in denied.text
                    )
                    assert token not in denied.text
