"""Waits report progress to clients that ask for it, and only to them."""

from __future__ import annotations

import pytest
from mcp import Client

from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import Settings, build_server

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_wait_sends_progress_while_waiting(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr("sharkfin_mcp.server.tools.events.PROGRESS_EVERY", 0.1)
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    settings = Settings(url=sandbox.ws_url, api_key=sandbox.key("agent"), presence=False)
    async with Client(build_server(settings), mode=mode) as client:  # type: ignore[arg-type]
        result = await client.call_tool(
            "wait_for_events", {"timeout_seconds": 0.55, "types": ["gap"]}, progress_callback=on_progress
        )
        assert result.structured_content is not None and result.structured_content["timed_out"] is True
        silent = await client.call_tool("wait_for_events", {"timeout_seconds": 0.3, "types": ["gap"]})
        assert silent.structured_content is not None
    assert len(reports) >= 3
    progress = [p for p, _, _ in reports]
    assert progress == sorted(progress) and all(total == 0.55 for _, total, _ in reports)
