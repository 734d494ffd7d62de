"""Shared pytest configuration: anyio's own plugin on asyncio only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sharkfin_mcp.sandbox import Sandbox


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A started in-process fake daemon with the demo identities (agent is admin)."""
    async with Sandbox() as sb:
        yield sb
