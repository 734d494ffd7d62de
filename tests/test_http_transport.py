"""Streamable HTTP: the same tools for remote or shared deployments, with an access token off
loopback; and a prompt, clean exit on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from sharkfin_mcp.sandbox import Sandbox
from tests._http import http_server_process

pytestmark = pytest.mark.anyio


@contextmanager
def http_server(sandbox: Sandbox, *args: str, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    child_env = {
        "SHARKFIN_URL": sandbox.ws_url,
        "SHARKFIN_API_KEY": sandbox.key("agent"),
        "SHARKFIN_LOG_LEVEL": "WARNING",
        **env,
    }
    with http_server_process(*args, env=child_env, startup_deadline=15) as (process, port):
        yield process, port


async def until_ready(client: Client) -> None:
    with anyio.fail_after(10):
        while (await client.call_tool("whoami", {})).is_error:
            await anyio.sleep(0.05)


@pytest.fixture
async def general(sandbox: Sandbox) -> AsyncIterator[Sandbox]:
    from sharkfin_mcp.client import SharkfinClient

    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("agent")) as agent:
        await agent.join_channel("general")
    yield sandbox


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_tools_over_streamable_http_in_both_eras(general: Sandbox, mode: Any) -> None:
    with http_server(general) as (_, port):
        async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client:
            await until_ready(client)
            sent = await client.call_tool(
                "send_message", {"channel": "general", "body": f"over http ({mode})"}
            )
            assert not sent.is_error and sent.structured_content is not None
            history = await client.call_tool("history", {"channel": "general"})
            assert history.structured_content is not None
            assert history.structured_content["messages"][-1]["id"] == sent.structured_content["id"]


async def test_public_bind_requires_a_token_and_checks_it(general: Sandbox) -> None:
    refused = await anyio.run_process(
        [sys.executable, "-m", "sharkfin_mcp.cli", "--transport", "http", "--host", "0.0.0.0"],
        env={**os.environ, "SHARKFIN_MCP_TOKEN": ""},
        check=False,
    )
    assert refused.returncode == 2
    assert b"SHARKFIN_MCP_TOKEN" in refused.stderr

    token = "test-token-5f2a"
    with http_server(general, "--host", "0.0.0.0", SHARKFIN_MCP_TOKEN=token) as (_, port):
        url = f"http://127.0.0.1:{port}/mcp"
        async with httpx2.AsyncClient() as plain:
            denied = await plain.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert denied.status_code == 401
            wrong = await plain.post(url, json={}, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        async with http, Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
            await until_ready(client)
            assert not (await client.call_tool("channel_list", {})).is_error


async def test_loopback_keeps_dns_rebinding_protection(general: Sandbox) -> None:
    with http_server(general) as (_, port):
        async with httpx2.AsyncClient() as http:
            response = await http.post(
                f"http://127.0.0.1:{port}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                headers={"Host": "evil.example.com", "Accept": "application/json, text/event-stream"},
            )
        assert response.status_code in (400, 403, 421)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows SIGTERM is TerminateProcess")
async def test_sigterm_ends_the_http_server_quickly_and_takes_the_identity_offline(general: Sandbox) -> None:
    with http_server(general) as (process, port):
        async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
            await until_ready(client)
        assert general.is_connected("agent")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await anyio.to_thread.run_sync(lambda: process.wait(timeout=5))
        took = time.monotonic() - started
    assert code == 0
    assert took < 2.5
    with anyio.fail_after(2):
        while general.is_connected("agent"):
            await anyio.sleep(0.02)
