"""A second, independent MCP client: the official MCP Inspector CLI 2.12 (TypeScript SDK) drives
``sharkfin-mcp --sandbox`` over stdio in both protocol eras, validating our schemas and results
with its own code, and its exit status follows the CLI's documented codes: 0 success, 5 the tool
returned ``isError`` (``{"error":{"code":"tool_is_error"}}`` on stderr), 6 ``--strict`` found
tool-schema portability errors, 1 a protocol or usage error.

Inspector 0.15 (the last release for Node 20) is no longer used: it bundles the same TypeScript
SDK as tests/test_typescript_client.py and speaks only the handshake era, which 2.12's
``--protocol-era legacy`` covers too. Node 22 and the Inspector come from the npm registry
(scripts/node_tools.py); skipped only where npm is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sharkfin_mcp.server.tools import DEFAULT_TOOLS
from tests._node import node_tools_or_skip

ROOT = Path(__file__).resolve().parent.parent
OK, TOOL_IS_ERROR, PROTOCOL_ERROR, STRICT_SCHEMA_ERRORS = 0, 5, 1, 6
ERAS = ["legacy", "modern"]


def inspector(*args: str, era: str = "legacy", expect: int = OK) -> Any:
    tools = node_tools_or_skip()
    cli = tools.package_bin("@modelcontextprotocol/inspector", "mcp-inspector")
    # Inspector 2.x passes a scrubbed environment to the server: what it needs goes through -e.
    server_env = ["-e", f"PYTHONPATH={ROOT}", "-e", "SHARKFIN_LOG_LEVEL=WARNING"]
    server = [sys.executable, "-m", "sharkfin_mcp.cli", "--sandbox"]
    command = [*cli, "--cli", "-q", "--protocol-era", era, *server_env, *server]
    env = {**os.environ, "MCP_INSPECTOR_SECRET_STORE": "memory"}  # no keychain on CI machines
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == expect, (
        f"exit {done.returncode} (expected {expect}):\n{done.stderr}{done.stdout}"
    )
    return done


def payload(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


@pytest.mark.parametrize("era", ERAS)
def test_tools_list_is_portable_by_the_inspectors_strict_check(era: str) -> None:
    tools = payload(inspector("--method", "tools/list", "--strict", era=era))["tools"]
    assert len(tools) == len(DEFAULT_TOOLS)
    for tool in tools:
        assert tool["outputSchema"]["type"] == "object"
        assert set(tool["annotations"]) >= {
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        }
        assert "\n" not in tool["description"]


@pytest.mark.parametrize("era", ERAS)
def test_read_and_send_through_the_inspector(era: str) -> None:
    unread = payload(inspector("--method", "tools/call", "--tool-name", "unread_messages", era=era))
    assert unread.get("isError") is not True
    (group,) = unread["structuredContent"]["channels"]
    (welcome,) = group["messages"]
    assert group["channel"] == "general" and welcome["from"] == "alice" and welcome["id"] == 1
    sent = payload(inspector(
        "--method", "tools/call", "--tool-name", "send_message",
        "--tool-arg", "channel=general", "--tool-arg", "body=hello from the inspector",
        "--tool-arg", "thread_id=1", era=era,
    ))  # fmt: skip
    assert sent.get("isError") is not True and sent["structuredContent"]["thread_id"] == 1


@pytest.mark.parametrize("era", ERAS)
def test_a_tool_error_exits_5_with_our_sentence(era: str) -> None:
    denied = inspector(
        "--method", "tools/call", "--tool-name", "history", "--tool-arg", "channel=nowhere",
        era=era, expect=TOOL_IS_ERROR,
    )  # fmt: skip
    result = payload(denied)
    assert result["isError"] is True
    assert "channel not found: nowhere" in result["content"][0]["text"]
    assert json.loads(denied.stderr.strip().splitlines()[-1])["error"]["code"] == "tool_is_error"


def test_resources_through_the_inspector() -> None:
    unread = payload(inspector("--method", "resources/read", "--uri", "sharkfin://unread"))
    (contents,) = unread["contents"]
    assert contents["mimeType"] == "application/json"
    assert json.loads(contents["text"])[0]["channel"] == "general"


def test_an_unknown_method_is_a_usage_error_not_a_tool_error() -> None:
    done = inspector("--method", "no/such-method", expect=PROTOCOL_ERROR)
    assert "Unsupported method" in done.stdout + done.stderr
