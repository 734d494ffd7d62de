"""How a tool is declared: a plain module-level ``async def`` plus a :class:`ToolSpec` naming its
annotations and profiles. Each domain module ends with its ``TOOLS`` list; ``tools/__init__``
registers them all through the SDK's public ``add_tool`` (via ``_arguments.add_tool``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ToolAnnotations

from .._runtime import Runtime

__all__ = ["APPEND", "CURSOR", "EXTERNAL", "READ", "REMOVE", "WRITE", "Ctx", "ToolSpec", "runtime"]

Ctx = Context[Runtime, Any]
"""The context every tool takes: its lifespan object is the process's :class:`Runtime`."""


def runtime(ctx: Ctx) -> Runtime:
    return ctx.request_context.lifespan_context


READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
APPEND = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
REMOVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
CURSOR = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
"""Reads that move the caller's event reader (server-side only; nothing changes on Sharkfin)."""
EXTERNAL = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[CallToolResult]]
    annotations: ToolAnnotations
    core: bool = False
    """Part of the ``core`` profile: what an agent needs to converse."""
    admin: bool = False
    """Only in the ``admin`` profile, off by default: changes the daemon for everyone."""

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def description(self) -> str:
        # One plain paragraph: docstring indentation is tokens the model pays for.
        return " ".join((self.fn.__doc__ or "").split())
