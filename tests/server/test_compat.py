"""The SDK internals ``_compat`` reaches into: this fails loudly, and first, on an SDK upgrade
that moves or reshapes one of them."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel

from sharkfin_mcp.server import _compat
from sharkfin_mcp.server._arguments import add_tool
from sharkfin_mcp.server.tools import TOOLS
from sharkfin_mcp.server.tools._spec import check_returns


async def probe(limit: int = 3) -> str:
    """A probe."""
    return str(limit)


def test_the_checked_sdk_version_is_the_installed_one() -> None:
    installed = importlib.metadata.version("mcp")
    assert installed.split(".")[:2] == _compat.CHECKED_AGAINST.split(".")[:2], (
        f"mcp {installed} is installed: re-read every entry of _compat, then update CHECKED_AGAINST"
    )


def test_registered_tool_and_arguments_as_given() -> None:
    server: MCPServer[Any] = MCPServer("probe")
    spec = add_tool(server, probe, annotations=ToolAnnotations(read_only_hint=True), description="A probe.")
    tool = _compat.registered_tool(server, "probe")
    assert tool.parameters == spec.schema  # what tools/list publishes
    assert isinstance(tool.fn_metadata, _compat.ArgumentsAsGiven)
    assert tool.fn_metadata.output_schema is not None  # the output schema survived the swap
    assert tool.fn_metadata.output_model is None  # results are not validated a second time
    raw = {"limit": "x", "extra": None}
    assert tool.fn_metadata.validate_arguments(raw) == {"arguments": raw}
    with pytest.raises(LookupError):
        _compat.registered_tool(server, "absent")


def test_lowlevel_server() -> None:
    server: MCPServer[Any] = MCPServer("probe")
    low = _compat.lowlevel_server(server)
    assert isinstance(low, Server)
    assert callable(low.add_request_handler) and callable(low.create_initialization_options)
    assert server.middleware is low.middleware  # the public middleware list is the low-level one


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_session_connection_is_stable_per_handshake_era_client(mode: str) -> None:
    """Handshake-era requests of one client share one connection object; modern-era requests
    have none (what ``_sessions.connection_key`` relies on)."""
    seen: list[Any] = []
    server: MCPServer[Any] = MCPServer("probe")

    @server.tool()
    async def who(ctx: Context) -> str:
        seen.append(_compat.session_connection(ctx.session))
        return "ok"

    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        await client.call_tool("who", {})
        await client.call_tool("who", {})
    if mode == "legacy":
        assert seen[0] is not None and seen[0] is seen[1]
        assert hasattr(seen[0], "protocol_version") and hasattr(seen[0], "session_id")
    else:
        assert all(c is None or c.protocol_version == "2026-07-28" for c in seen)


PUBLIC_DESPITE_THE_UNDERSCORE = {"os._exit"}
"""Documented standard-library functions whose names start with an underscore."""


def _private_reaches(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            found.append(ast.unparse(node))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and str(node.args[1].value).startswith("_")
        ):
            found.append(ast.unparse(node))
    return [f for f in found if f not in PUBLIC_DESPITE_THE_UNDERSCORE]


def test_only_compat_reaches_into_another_objects_private_attributes() -> None:
    """``obj._name`` or ``getattr(obj, "_name")`` on anything but ``self``/``cls`` belongs in
    ``_compat``, where it is dated and tested; anywhere else it breaks silently on an upgrade."""
    package = Path(_compat.__file__).resolve().parents[1]
    offenders = {
        str(path.relative_to(package)): reaches
        for path in sorted(package.rglob("*.py"))
        if path.name != "_compat.py" and (reaches := _private_reaches(ast.parse(path.read_text())))
    }
    assert offenders == {}


def test_the_private_reach_finder_finds_both_forms() -> None:
    tree = ast.parse("a = mcp._lowlevel_server\nb = getattr(s, '_connection', None)\nself._ok\nos._exit(0)")
    assert _private_reaches(tree) == ["mcp._lowlevel_server", "getattr(s, '_connection', None)"]


def test_a_tool_that_would_lose_its_structured_content_is_refused_at_build() -> None:
    """Results are not re-validated by the SDK, which then keeps structured content only from a
    returned ``CallToolResult``: any other return annotation is refused when tools register."""
    for fn in (probe, _model_returning):
        with pytest.raises(TypeError, match=fn.__name__):
            check_returns(fn.__name__, inspect.signature(fn, eval_str=True).return_annotation)
    for spec in TOOLS:
        check_returns(spec.name, inspect.signature(spec.fn, eval_str=True).return_annotation)


class _Shape(BaseModel):
    ok: bool


async def _model_returning() -> _Shape:
    """Returns a model, not a CallToolResult."""
    return _Shape(ok=True)
