"""Always an answer, on the raw wire: bytes written to a ``sharkfin-mcp --sandbox`` stdio process
and the lines it writes back. A malformed line, a batch, a non-message, a lone surrogate: each gets
exactly one reply (or is served), in both protocol eras, and the process keeps serving with no
traceback on stderr."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sharkfin_mcp.server.tools import DEFAULT_TOOLS

from .._stdio_wire import ROOT, RawServer

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


class Wire(RawServer):
    """A ``sharkfin-mcp --sandbox`` process on raw pipes."""

    def __init__(self, *args: str) -> None:
        super().__init__({"PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1"}, "--sandbox", *args)

    def request(self, request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        return message

    def handshake(self, version: str = "2025-11-25") -> None:
        self.send(
            self.request(
                1,
                "initialize",
                {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"},
                },
            )
        )
        reply = self.next()
        assert reply["id"] == 1 and reply["result"]["protocolVersion"] == version, reply
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def modern(self, request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request(request_id, method, {**(params or {}), "_meta": MODERN_META})


@pytest.fixture
def wire() -> Iterator[Wire]:
    server = Wire()
    try:
        yield server
    finally:
        server.close(timeout=10)
        stderr = server.stderr_text()
        assert "Traceback" not in stderr, stderr


def _error(reply: Any, code: int, request_id: Any = None) -> str:
    assert isinstance(reply, dict), reply
    assert reply["id"] == request_id and reply["error"]["code"] == code, reply
    return str(reply["error"]["message"])


HOSTILE_LINES = [
    ("{not json", -32700),
    ('{"jsonrpc": "2.0", "id": 1', -32700),
    ("\x00\x01garbage", -32700),
    ("42", -32600),
    ('"ping"', -32600),
    ("null", -32600),
    ('{"jsonrpc": "2.0", "method": 7, "id": 3}', -32600),
    ('{"jsonrpc": "2.0", "id": {"nested": 1}, "method": "ping"}', -32600),
]


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_every_hostile_line_gets_exactly_one_answer(wire: Wire, era: str) -> None:
    if era == "legacy":
        wire.handshake()
    for line, code in HOSTILE_LINES:
        wire.write(line)
        expected_id = 3 if '"method": 7' in line else None
        message = _error(wire.next(), code, expected_id)
        assert message and "Traceback" not in message
        ping = wire.request(9, "ping") if era == "legacy" else wire.modern(9, "ping")
        wire.send(ping)  # ... and the server keeps serving, with nothing else in between
        assert wire.next()["id"] == 9


def test_a_batch_is_refused_where_the_protocol_has_none(wire: Wire) -> None:
    wire.handshake("2025-11-25")
    wire.send([wire.request(5, "ping"), wire.request(6, "ping")])
    message = _error(wire.next(), -32600)
    assert "2025-11-25" in message and "batch" in message
    wire.send(wire.request(7, "ping"))
    assert wire.next()["id"] == 7  # neither 5 nor 6 was run


def test_a_batch_is_refused_in_the_modern_era(wire: Wire) -> None:
    wire.send(wire.modern(2, "server/discover"))
    assert "result" in wire.next()
    wire.send([wire.modern(5, "ping"), wire.modern(6, "ping")])
    assert "batch" in _error(wire.next(), -32600)


def test_a_batch_is_served_in_2025_03_26(wire: Wire) -> None:
    wire.handshake("2025-03-26")
    wire.send(
        [
            wire.request(5, "ping"),
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": 1, "progress": 1},
            },
            wire.request(6, "tools/list"),
            {"jsonrpc": "2.0", "id": 7, "method": 3},
        ]
    )
    replies = wire.next()
    assert isinstance(replies, list), replies
    by_id = {r["id"]: r for r in replies}
    assert set(by_id) == {5, 6, 7}
    assert by_id[5]["result"] == {}
    assert len(by_id[6]["result"]["tools"]) == len(DEFAULT_TOOLS)
    assert by_id[7]["error"]["code"] == -32600
    wire.send([])
    _error(wire.next(), -32600)


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_lone_surrogates_are_repaired_not_dropped(wire: Wire, era: str) -> None:
    if era == "legacy":
        wire.handshake()
        call = wire.request
    else:
        call = wire.modern
    deadline = time.monotonic() + 15
    while (
        wire.send(call(1, "tools/call", {"name": "whoami", "arguments": {}}))
        or wire.next()["result"]["isError"]
    ):
        assert time.monotonic() < deadline, "the sandbox never became ready"
        time.sleep(0.05)
    body = "lone \\ud800 high, lone \\udfff low, pair \\ud83d\\ude00 kept"
    raw = json.dumps(call(2, "tools/call", {"name": "send_message", "arguments": {"channel": "general"}}))
    wire.write(raw.replace('"channel": "general"', f'"channel": "general", "body": "{body}"'))
    sent = wire.next()
    assert sent["id"] == 2 and sent["result"]["isError"] is False, sent
    wire.send(call(3, "tools/call", {"name": "history", "arguments": {"channel": "general", "limit": 1}}))
    history = wire.next()
    assert (
        history["result"]["structuredContent"]["messages"][0]["body"]
        == "lone \ufffd high, lone \ufffd low, pair 😀 kept"
    )


def test_an_unencodable_outgoing_message_is_repaired_not_fatal() -> None:
    """A lone surrogate in a result (the real daemon cannot produce one; a Python peer could) would
    make the SDK's serializer raise and end the transport; the wire repairs it instead."""
    import mcp_types

    from sharkfin_mcp.server._wire import _encoded

    reply = mcp_types.JSONRPCResponse(jsonrpc="2.0", id=4, result={"body": "a\ud800b", "k\udfff": ["\ud83d"]})
    line = _encoded(reply)
    line.encode("utf-8")
    assert json.loads(line) == {
        "jsonrpc": "2.0",
        "id": 4,
        "result": {"body": "a\ufffdb", "k\ufffd": ["\ufffd"]},
    }


HOSTILE_PARAMS = [
    ("resources/read", {"uri": "sharkfin://channels/../history"}),
    ("resources/read", {"uri": "sharkfin://channels/a%0Ab/history"}),
    ("resources/read", {"uri": 5}),
    ("resources/read", {}),
    ("resources/subscribe", {"uri": "not a uri"}),
    ("prompts/get", {"name": "summarize_channel", "arguments": {"channel": 5}}),
    ("prompts/get", {"name": "summarize_channel", "arguments": "x"}),
    ("prompts/get", {"name": None}),
    ("prompts/get", {"name": "summarize_channel"}),  # a required argument missing
    ("prompts/get", {"name": "summarize_channel", "arguments": {"channel": ""}}),
    ("prompts/get", {"name": "no_such_prompt", "arguments": {}}),
    ("tools/call", {"name": "no_such_tool", "arguments": {}}),
    ("tools/call", {"name": "history", "arguments": "channel=general"}),
    ("tools/call", {"name": "history", "arguments": None}),
    ("tools/call", {}),
    ("logging/setLevel", {"level": "loud"}),
    (
        "completion/complete",
        {"ref": {"type": "ref/prompt", "name": "x"}, "argument": {"name": "a", "value": ""}},
    ),
    ("tools/list", {"cursor": "garbage"}),
    ("no/such/method", {}),
]


def test_hostile_params_to_every_method_get_exactly_one_answer(wire: Wire) -> None:
    wire.handshake()
    for request_id, (method, params) in enumerate(HOSTILE_PARAMS, start=10):
        wire.send(wire.request(request_id, method, params))
        reply = wire.next()
        assert reply["id"] == request_id, (method, params, reply)
        assert ("result" in reply) != ("error" in reply), reply
        if "error" in reply:
            assert reply["error"]["code"] in (-32002, -32600, -32601, -32602), (method, params, reply)
            assert len(reply["error"]["message"].splitlines()) == 1, reply
