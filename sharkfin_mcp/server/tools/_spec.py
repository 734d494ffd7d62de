"""How a tool is declared: a plain module-level ``async def`` plus a :class:`ToolSpec` naming its
annotations and profiles. Each domain module ends with its ``TOOLS`` list; ``tools/__init__``
registers them all through the SDK's public ``add_tool`` (via ``_arguments.add_tool``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel

from .._runtime import Runtime

__all__ = [
    "APPEND",
    "CURSOR",
    "DESTROY",
    "EXTERNAL",
    "READ",
    "REMOVE",
    "WRITE",
    "Ctx",
    "ToolSpec",
    "check_returns",
    "runtime",
]

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
DESTROY = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
"""Removes something whose second removal fails (``delete_role``: the role is gone)."""
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


def check_returns(name: str, returns: Any) -> None:
    """Raise TypeError unless ``returns`` is ``Annotated[CallToolResult, <result model>]``.

    Every tool builds its result with ``_results.result``, and the SDK publishes the model as the
    output schema. It does not validate results again (``_compat.ArgumentsAsGiven``), and would
    drop the structured content of any other kind of return value, so that is refused here, when
    the server is built, rather than found missing by an agent."""
    args = get_args(returns) if get_origin(returns) is Annotated else ()
    model = args[1] if len(args) > 1 else None
    if not args or args[0] is not CallToolResult or not (
        inspect.isclass(model) and issubclass(model, BaseModel)
    ):
        raise TypeError(f"tool {name} must return Annotated[CallToolResult, <result model>], not {returns!r}")
