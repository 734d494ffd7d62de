"""Every tool, fuzzed with the argument mixes language models produce: each parameter missing,
``null``, a string (numeric or not), a number, or a boolean. Each call must get exactly one
answer: a success, or ``isError`` with one plain line (never pydantic's text, never the bare
"Error executing tool X" of a crash), and no traceback may be logged.

In memory (both protocol eras' shared code path, many examples) and over a real stdio subprocess
(raw JSON-RPC, fewer examples, stderr read directly). ``FUZZED_CALLS`` counts what ran."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from sharkfin_mcp.server.tools import TOOLS as ALL_SPECS

from .._fuzz import arguments_for, assert_one_plain_answer
from .conftest import tool_target
from .test_wire import Wire

TOOLS = sorted(spec.name for spec in ALL_SPECS)
"""Every tool, the admin profile's included (the servers below run with all,admin)."""
EXAMPLES_PER_TOOL = 40
STDIO_EXAMPLES_PER_TOOL = 6
FUZZED_CALLS = {"memory": 0, "stdio": 0}


class _Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.seen.append(self.format(record))


@pytest.fixture(scope="module")
def memory_target() -> Iterator[tuple[BlockingPortal, Client, dict[str, list[str]], _Tracebacks]]:
    handler = _Tracebacks()
    logging.getLogger().addHandler(handler)
    try:
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(tool_target(tool_profile="all,admin")) as (client, tools),
        ):
            assert sorted(tools) == TOOLS
            yield portal, client, tools, handler
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize("tool", TOOLS)
@settings(
    max_examples=EXAMPLES_PER_TOOL, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzz_every_tool_in_memory(
    memory_target: tuple[BlockingPortal, Client, dict[str, list[str]], _Tracebacks],
    tool: str,
    data: st.DataObject,
) -> None:
    portal, client, tools, tracebacks = memory_target
    arguments = arguments_for(data, tools[tool])
    result = portal.call(client.call_tool, tool, arguments)
    FUZZED_CALLS["memory"] += 1
    assert_one_plain_answer(tool, result)
    assert not tracebacks.seen, tracebacks.seen[-1]


@pytest.fixture(scope="module")
def stdio_target() -> Iterator[tuple[Wire, dict[str, list[str]], list[int]]]:
    wire = Wire("--tools", "all,admin")
    try:
        wire.handshake()
        wire.send(wire.request(2, "tools/list"))
        tools = {t["name"]: list(t["inputSchema"]["properties"]) for t in wire.next()["result"]["tools"]}
        assert sorted(tools) == TOOLS
        yield wire, tools, [100]
    finally:
        wire.close(timeout=10)
        stderr = wire.stderr_text()
        assert "Traceback" not in stderr, stderr
        assert not re.search(r"\bERROR\b", stderr), stderr


@pytest.mark.parametrize("tool", TOOLS)
@settings(
    max_examples=STDIO_EXAMPLES_PER_TOOL,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzz_every_tool_over_stdio(
    stdio_target: tuple[Wire, dict[str, list[str]], list[int]], tool: str, data: st.DataObject
) -> None:
    wire, tools, next_id = stdio_target
    arguments = arguments_for(data, tools[tool])
    next_id[0] += 1
    wire.send(wire.request(next_id[0], "tools/call", {"name": tool, "arguments": arguments}))
    reply = wire.next()
    FUZZED_CALLS["stdio"] += 1
    assert reply["id"] == next_id[0], reply  # exactly one answer, to this request
    assert "result" in reply, reply
    assert_one_plain_answer(tool, CallToolResult.model_validate(reply["result"]))


def test_report_fuzzed_calls(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module (pytest keeps file order): the count for the notes."""
    with capsys.disabled():
        print(f"\nfuzzed tool calls: {json.dumps(FUZZED_CALLS)}")
