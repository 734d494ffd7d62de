"""Operator safety controls, and the API key staying secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mcp import Client

from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox
from sharkfin_mcp.server import ConfigError, Settings, build_server
from sharkfin_mcp.server._safety import ChannelPolicy, RateLimiter

from .conftest import ready

pytestmark = pytest.mark.anyio


async def tool_names(**overrides: Any) -> set[str]:
    server = build_server(Settings(**overrides))
    return {t.name for t in await server.list_tools()}


@pytest.mark.parametrize("profile", ["all", "all,admin"])
async def test_read_only_mode_lists_only_tools_that_change_nothing(profile: str) -> None:
    server = build_server(Settings(read_only=True, tool_profile=profile))
    tools = await server.list_tools()
    assert tools and all(t.annotations and t.annotations.read_only_hint for t in tools)
    names = {t.name for t in tools}
    assert {"history", "unread_messages", "poll_events", "wait_for_messages"} <= names
    assert not names & {"send_message", "mark_read", "channel_create", "set_setting", "unregister_webhook"}
    assert ("get_settings" in names) == (profile == "all,admin")  # the admin profile's reads stay


async def test_core_profile_is_smaller_and_keeps_the_conversation_tools() -> None:
    everything, core = await tool_names(), await tool_names(tool_profile="core")
    assert core < everything and len(core) == 13
    assert {"send_message", "unread_messages", "mark_read", "wait_for_messages"} <= core
    assert "wait_for_events" not in core  # wait_for_messages is the conversation's wait


def test_channel_policy() -> None:
    policy = ChannelPolicy.parse("general, ops-*, !ops-secret")
    assert [policy.permits(c) for c in ("general", "ops-1", "ops-secret", "random")] == [
        True,
        True,
        False,
        False,
    ]
    deny_only = ChannelPolicy.parse("!secret")
    assert deny_only.permits("anything") and not deny_only.permits("secret")


def test_rate_limiter_window() -> None:
    limiter = RateLimiter(limit=3, window=60)
    assert [limiter.try_acquire(now=t) for t in (0, 1, 2)] == [0, 0, 0]
    assert limiter.try_acquire(now=3) == pytest.approx(57)
    assert limiter.try_acquire(now=60.5) == 0


async def test_send_policy_and_rate_limit_stop_the_agent_with_clear_errors(sandbox: Sandbox) -> None:
    async with await SharkfinClient.connect(sandbox.ws_url, api_key=sandbox.key("agent")) as agent:
        await agent.join_channel("general")
        await agent.create_channel("secret", True)
    settings = Settings(
        url=sandbox.ws_url,
        api_key=sandbox.key("agent"),
        presence=False,
        send_channels="!secret",
        max_sends_per_minute=3,
    )
    async with Client(build_server(settings), mode="legacy") as client:
        await ready(client)
        denied = await client.call_tool("send_message", {"channel": "secret", "body": "psst"})
        assert (
            denied.is_error
            and "not allowed" in denied.content[0].text
            and "!secret" in denied.content[0].text
        )
        before = sandbox.message_count()
        results = [
            await client.call_tool("send_message", {"channel": "general", "body": f"{n}"}) for n in range(5)
        ]
        assert [r.is_error for r in results] == [False, False, False, True, True]
        assert "rate limit" in results[3].content[0].text and "loop" in results[3].content[0].text
        assert sandbox.message_count() == before + 3


def test_clear_text_key_to_another_host_is_refused_unless_allowed() -> None:
    remote = Settings(url="ws://sharkfin.example.com:16000/ws", api_key="k")
    assert remote.cleartext_refusal() is not None
    assert "clear text" in (remote.cleartext_refusal() or "")
    assert Settings(url="wss://sharkfin.example.com/ws", api_key="k").cleartext_refusal() is None
    assert Settings(url="ws://127.0.0.1:16000/ws", api_key="k").cleartext_refusal() is None
    assert Settings(url="http://[::1]:16000", api_key="k").cleartext_refusal() is None
    allowed = Settings(url="ws://10.1.2.3:16000/ws", api_key="k", allow_insecure=True)
    assert allowed.cleartext_refusal() is None


async def test_refused_clear_text_key_is_a_tool_error_and_nothing_is_sent() -> None:
    settings = Settings(url="ws://sharkfin.invalid:16000/ws", api_key="k", presence=False)
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool("channel_list", {})
        assert result.is_error
        assert "refusing to send the API key in clear text" in result.content[0].text
        assert "SHARKFIN_ALLOW_INSECURE" in result.content[0].text


def test_http_on_a_public_address_needs_an_access_token() -> None:
    with pytest.raises(ConfigError, match="SHARKFIN_MCP_TOKEN"):
        Settings.from_env({}, transport="http", host="0.0.0.0")
    assert Settings.from_env({"SHARKFIN_MCP_TOKEN": "t"}, transport="http", host="0.0.0.0").http_token == "t"
    assert Settings.from_env({}, transport="http", host="127.0.0.1").http_token is None


def test_settings_never_show_secrets(tmp_path: Any) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("s3cret-key-value\n")
    settings = Settings.from_env({"SHARKFIN_API_KEY_FILE": str(key_file), "SHARKFIN_MCP_TOKEN": "tok-value"})
    assert settings.api_key == "s3cret-key-value"
    assert settings.api_key_source == f"file:{key_file}"
    shown = repr(settings) + str(settings)
    assert "s3cret-key-value" not in shown and "tok-value" not in shown
    with pytest.raises(ConfigError, match="empty"):
        (tmp_path / "empty").write_text("\n")
        Settings.from_env({"SHARKFIN_API_KEY_FILE": str(tmp_path / "empty")})


async def test_key_never_appears_in_logs_errors_or_results(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole session at DEBUG, including a rejected key, grepped for both keys."""
    good, bad = sandbox.key("agent"), "wrong-key-0123456789"
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    for key in (good, bad):
        settings = Settings(url=sandbox.ws_url, api_key=key, api_key_source="env:SHARKFIN_API_KEY")
        async with Client(build_server(settings), mode="legacy") as client:
            if key == good:
                await ready(client)
            for name, args in [
                ("whoami", {}),
                ("send_message", {"channel": "general", "body": "hello"}),
                ("channel_create", {"name": "x", "public": True}),
                ("history", {"channel": "nope"}),
                ("poll_events", {}),
            ]:
                result = await client.call_tool(name, args)
                outputs.append(result.model_dump_json())
    outputs.append(caplog.text)
    outputs.extend(repr(r.exc_info) for r in caplog.records if r.exc_info)
    everything = "\n".join(outputs)
    assert "rejected the API key" in everything
    assert good not in everything and bad not in everything
