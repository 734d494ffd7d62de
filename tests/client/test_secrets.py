"""The API key never leaks: not in reprs, not in error texts, not in log records (even at DEBUG,
where websockets logs the handshake headers and the client installs a redacting filter)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sharkfin_mcp.client import (
    AuthenticationError,
    ConnectError,
    ExponentialBackoff,
    NotFound,
    RESTClient,
    SharkfinClient,
)
from sharkfin_mcp.sandbox import Identity

from .helpers import closed_port

pytestmark = pytest.mark.anyio

SECRET = "wf-agent_S3CR3T-do-not-log-0123456789"
WRONG = "wf-agent_WRONG-S3CR3T-9876543210"


def assert_not_in_logs(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    assert caplog.records, "expected some log records at DEBUG"
    for record in caplog.records:
        text = record.getMessage()
        for secret in secrets:
            assert secret not in text, f"{record.name}: {text}"
    for secret in secrets:
        assert secret not in caplog.text


async def test_key_not_in_debug_logs_reprs_or_errors(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.add_identity(Identity("carol", SECRET, "user"))

    client = await SharkfinClient.connect(sandbox.ws_url, api_key=SECRET, request_timeout=2)
    try:
        assert SECRET not in repr(client) and SECRET not in repr(client.rest)
        await client.join_channel("general")
        await client.send_message("general", "hello", metadata={"k": 1})
        with pytest.raises(NotFound) as missing:
            await client.history("nowhere")
        assert SECRET not in str(missing.value)
        await client.register()
    finally:
        await client.close()
    assert SECRET not in repr(client)

    with pytest.raises(AuthenticationError) as rejected:
        await SharkfinClient.connect(sandbox.ws_url, api_key=WRONG)
    assert rejected.value.status == 401
    assert "rejected the API key" in str(rejected.value)
    assert WRONG not in str(rejected.value) and WRONG not in repr(rejected.value)

    with pytest.raises(ConnectError) as unreachable:
        await SharkfinClient.connect(f"ws://127.0.0.1:{closed_port()}/ws", api_key=SECRET, connect_timeout=1)
    assert SECRET not in str(unreachable.value)

    async with RESTClient(sandbox.http_url, api_key=WRONG) as rest:
        with pytest.raises(AuthenticationError) as rest_rejected:
            await rest.channels()
        assert WRONG not in str(rest_rejected.value)

    # websockets really did log the handshake at DEBUG, so the filter had something to redact.
    assert any(
        r.name.startswith("sharkfin_mcp.client.wire") and "***" in r.getMessage() for r in caplog.records
    )
    assert_not_in_logs(caplog, SECRET, WRONG)


async def test_key_not_in_debug_logs_across_reconnect(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.add_identity(Identity("carol", SECRET, "user"))
    backoff = ExponentialBackoff(initial=0.02, maximum=0.05)
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=SECRET, reconnect=backoff) as client:
        await sandbox.disconnect_all()
        async for event in client.events():
            if event.type == "reconnect":
                break
        await client.ping()
    assert sum("***" in r.getMessage() for r in caplog.records) >= 2  # both handshakes redacted
    assert_not_in_logs(caplog, SECRET)


async def test_closed_clients_leave_no_redaction_filters_behind(sandbox: Any) -> None:
    from sharkfin_mcp.client._auth import _REDACT

    wire = logging.getLogger("sharkfin_mcp.client.wire")
    before = list(wire.filters)
    key = sandbox.key("alice")
    for _ in range(3):
        async with await SharkfinClient.connect(sandbox.ws_url, api_key=key) as client:
            assert wire.filters == before  # one process-wide filter, not one per client
            assert _REDACT.secrets[key] == 2  # redacting while open (its /ws and its REST halves)
            await client.ping()
    assert wire.filters == before
    assert key not in _REDACT.secrets
