"""A second, independent MCP client: the official MCP Inspector CLI (TypeScript SDK) drives
``sharkfin-mcp --sandbox`` over stdio, validating our schemas and results with its own code.

Runs when ``SHARKFIN_INSPECTOR_DIR`` names a folder with ``@modelcontextprotocol/inspector``
installed (``.ci/run`` installs it when npm is available); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

INSPECTOR_DIR = os.environ.get("SHARKFIN_INSPECTOR_DIR", "")
CLI = Path(INSPECTOR_DIR) / "node_modules" / ".bin" / "mcp-inspector"

pytestmark = pytest.mark.skipif(
    not CLI.exists(), reason="MCP Inspector not installed (SHARKFIN_INSPECTOR_DIR)"
)


def inspector(*args: str) -> Any:
    command = [str(CLI), "--cli", sys.executable, "-m", "sharkfin_mcp.cli", "--sandbox", *args]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def test_tools_list_through_the_typescript_sdk() -> None:
    tools = inspector("--method", "tools/list")["tools"]
    assert len(tools) == 29
    for tool in tools:
        assert tool["outputSchema"]["type"] == "object"
        assert set(tool["annotations"]) >= {
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        }
        assert "\n" not in tool["description"]


def test_read_and_send_through_the_typescript_sdk() -> None:
    unread = inspector("--method", "tools/call", "--tool-name", "unread_messages")
    assert unread.get("isError") is not True
    (welcome,) = unread["structuredContent"]["messages"]
    assert welcome["from"] == "alice" and welcome["id"] == 1
    sent = inspector(
        "--method", "tools/call", "--tool-name", "send_message",
        "--tool-arg", "channel=general", "--tool-arg", "body=hello from the inspector",
        "--tool-arg", "thread_id=1",
    )  # fmt: skip
    assert sent.get("isError") is not True and sent["structuredContent"]["thread_id"] == 1


def test_errors_and_resources_through_the_typescript_sdk() -> None:
    denied = inspector("--method", "tools/call", "--tool-name", "history", "--tool-arg", "channel=nowhere")
    assert denied["isError"] is True
    assert "channel not found: nowhere" in denied["content"][0]["text"]
    unread = inspector("--method", "resources/read", "--uri", "sharkfin://unread")
    (contents,) = unread["contents"]
    assert contents["mimeType"] == "application/json"
    assert json.loads(contents["text"])[0]["channel"] == "general"
