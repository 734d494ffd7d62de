"""A third, independent MCP client: the official TypeScript SDK (``@modelcontextprotocol/sdk``)
calls EVERY tool of ``sharkfin-mcp --sandbox`` over stdio and over streamable HTTP, and checks
each ``structuredContent`` against the tool's ``outputSchema`` (the SDK's own check and Ajv's).

The Node side is ``tests/clients/ts_sdk_client.cjs``; this module gives it the calls to make, in
an order where each has what it needs (a channel joined before it is read, a webhook listed
before it is deleted). A tool listed by the server but missing here fails the test, so a new tool
cannot go unchecked. A lying server shows that a schema mismatch really fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sharkfin_mcp.server.tools import TOOLS
from tests._http import http_server_process
from tests._node import node_tools_or_skip

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "tests" / "clients" / "ts_sdk_client.cjs"
LYING_SERVER = ROOT / "tests" / "clients" / "lying_server.py"

PLAN: list[tuple[str, dict[str, Any]]] = [
    ("whoami", {}),
    ("capabilities", {}),
    ("user_list", {}),
    ("channel_list", {}),
    ("channel_join", {"channel": "general"}),
    ("unread_counts", {}),
    ("unread_messages", {}),
    ("history", {"channel": "general", "limit": 5}),
    ("send_message", {"channel": "general", "body": "hello from the TypeScript SDK", "thread_id": 1}),
    ("mark_read", {"channel": "general"}),
    ("channel_create", {"name": "ts-client", "public": True, "members": ["bob"]}),
    ("channel_invite", {"channel": "ts-client", "username": "alice"}),
    ("dm_open", {"username": "bob"}),
    ("dm_list", {}),
    ("set_state", {"state": "idle"}),
    ("mention_group_create", {"slug": "ts-team"}),
    ("mention_group_add_member", {"slug": "ts-team", "username": "bob"}),
    ("mention_group_get", {"slug": "ts-team"}),
    ("mention_group_list", {}),
    ("mention_group_remove_member", {"slug": "ts-team", "username": "bob"}),
    ("mention_group_delete", {"slug": "ts-team"}),
    ("register_webhook", {"url": "http://127.0.0.1:9/hook"}),
    ("list_webhooks", {}),
    ("unregister_webhook", {"webhook_id": {"$from": ["list_webhooks", "webhooks", 0, "id"]}}),
    ("get_settings", {}),
    ("set_setting", {"key": "ts_client", "value": "yes"}),
    ("poll_events", {"after": 0}),
    ("wait_for_events", {"after": 0, "timeout_seconds": 1}),
    ("wait_for_messages", {"timeout_seconds": 0}),
    ("list_roles", {}),
    ("create_role", {"name": "ts-role"}),
    ("grant_permission", {"role": "ts-role", "permission": "history"}),
    ("revoke_permission", {"role": "ts-role", "permission": "history"}),
    ("set_role", {"username": "bob", "role": "user"}),
    ("delete_role", {"name": "ts-role"}),
]
"""Every tool of the ``all,admin`` profile (the servers below list exactly these)."""
PROFILE = ["--tools", "all,admin"]


def run_client(tmp_path: Path, plan: list[tuple[str, dict[str, Any]]], *target: str) -> tuple[int, Any, str]:
    tools = node_tools_or_skip()
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHARKFIN_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [tools.node, str(CLIENT), str(tools.dir), str(plan_file), *target],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    return done.returncode, report, done.stderr


def assert_every_tool_valid(code: int, report: Any, stderr: str) -> None:
    assert report is not None, stderr
    assert report["problems"] == [] and code == 0, json.dumps(report["problems"], indent=2) + stderr
    assert report["listed"] == len(PLAN) == len(TOOLS)
    assert [c["name"] for c in report["calls"]] == [name for name, _ in PLAN]
    assert all(c["isError"] is False and c["schemaValid"] is True for c in report["calls"])


def test_every_tool_over_stdio_matches_its_output_schema(tmp_path: Path) -> None:
    server = [sys.executable, "-m", "sharkfin_mcp.cli", "--sandbox", *PROFILE]
    assert_every_tool_valid(*run_client(tmp_path, PLAN, "stdio", *server))


@contextmanager
def http_sandbox_server() -> Iterator[str]:
    env = {"SHARKFIN_LOG_LEVEL": "WARNING"}
    with http_server_process("--sandbox", *PROFILE, env=env, startup_deadline=30) as (_, port):
        yield f"http://127.0.0.1:{port}/mcp"


def test_every_tool_over_streamable_http_matches_its_output_schema(tmp_path: Path) -> None:
    node_tools_or_skip()  # skip before starting a server when there is no node
    with http_sandbox_server() as url:
        assert_every_tool_valid(*run_client(tmp_path, PLAN, "http", url))


def test_a_result_that_breaks_its_output_schema_fails_the_check(tmp_path: Path) -> None:
    code, report, stderr = run_client(
        tmp_path, [("count_things", {})], "stdio", sys.executable, str(LYING_SERVER)
    )
    assert code == 1, stderr
    (problem,) = report["problems"]
    assert problem.startswith("count_things:") and "count" in problem and "schema" in problem.lower()
