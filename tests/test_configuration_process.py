"""Configuration and secrets through the real process: the server and ``doctor`` give the same
verdict on every configuration (the same one line), start-up refusals exit 2 with one stderr line,
and an odd API key never shows up in stdout, stderr, tool results or resource errors at any log
level."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

import sharkfin_mcp
from sharkfin_mcp.sandbox import Identity, Sandbox
from tests._protocol import INITIALIZE

pytestmark = pytest.mark.anyio

ROOT = str(Path(sharkfin_mcp.__file__).resolve().parents[1])
CLI = [sys.executable, "-m", "sharkfin_mcp.cli"]


def child_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARKFIN_")}
    return {**env, "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1", **settings}


async def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run to the end with stdin a pipe at EOF (a server that starts, stops at once)."""
    with anyio.fail_after(60):
        done = await anyio.run_process([*CLI, *args], input=b"\n", env=env, check=False, cwd=ROOT)
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


# -- one verdict, one line -------------------------------------------------------------------------


def configurations(tmp: Path) -> list[tuple[str, dict[str, str], str | None]]:
    """(name, environment, the expected refusal's distinctive words or None when accepted)."""
    (tmp / "bom-key").write_bytes("\ufeffwf-key-from-file\r\n".encode())
    (tmp / "utf16-key").write_bytes("wf-key-from-file".encode("utf-16"))
    (tmp / "two-lines").write_bytes(b"wf-key-one\nwf-key-two\n")
    closed = "ws://127.0.0.1:9/ws"
    return [
        ("defaults", {}, None),
        ("http form", {"SHARKFIN_URL": "http://127.0.0.1:9/"}, None),
        ("ws with trailing slash", {"SHARKFIN_URL": "ws://127.0.0.1:9/ws/"}, None),
        ("key with BOM and CRLF", {"SHARKFIN_URL": closed, "SHARKFIN_API_KEY": "\ufeffwf-k3y-123\r\n"}, None),
        ("key file with BOM", {"SHARKFIN_URL": closed, "SHARKFIN_API_KEY_FILE": str(tmp / "bom-key")}, None),
        ("lowercase level", {"SHARKFIN_LOG_LEVEL": "debug"}, None),
        (
            "no scheme",
            {"SHARKFIN_URL": "127.0.0.1:16000"},
            "has no ws://, wss://, http:// or https:// scheme",
        ),
        ("REST path", {"SHARKFIN_URL": "http://127.0.0.1:16000/api/v1"}, "the path '/api/v1' is not"),
        ("ws path below /ws", {"SHARKFIN_URL": "ws://127.0.0.1:16000/ws/x"}, "the path '/ws/x' is not"),
        ("key with CRLF inside", {"SHARKFIN_API_KEY": "wf-k3y\r\nX-Evil: yes"}, "has a line break"),
        ("non-ASCII key", {"SHARKFIN_API_KEY": "wf-clé-123"}, "has a non-ASCII character"),
        ("UTF-16 key file", {"SHARKFIN_API_KEY_FILE": str(tmp / "utf16-key")}, "is not UTF-8 text"),
        ("two-line key file", {"SHARKFIN_API_KEY_FILE": str(tmp / "two-lines")}, "more than one line"),
        ("missing key file", {"SHARKFIN_API_KEY_FILE": str(tmp / "absent")}, "cannot read the API key file"),
        ("bad number", {"SHARKFIN_EVENT_BUFFER": "lots"}, "SHARKFIN_EVENT_BUFFER / --event-buffer must be"),
        ("bad choice", {"SHARKFIN_TOOLS": "most"}, "must be all or core, optionally with admin added"),
        (
            "clear-text key to another host",
            {"SHARKFIN_URL": "ws://sharkfin.example.com:16000/ws", "SHARKFIN_API_KEY": "wf-k3y-123"},
            "refusing to send the API key in clear text",
        ),
    ]


async def test_server_and_doctor_agree_on_every_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process, for the whole matrix: ``cli.main`` (the server's start) and ``run_doctor``."""
    from sharkfin_mcp._doctor import run_doctor
    from sharkfin_mcp.cli import main
    from sharkfin_mcp.server import ConfigError, Settings

    for name, settings, refusal in configurations(tmp_path):
        for variable in [v for v in os.environ if v.startswith("SHARKFIN_")]:
            monkeypatch.delenv(variable)
        for variable, value in settings.items():
            monkeypatch.setenv(variable, value)
        report = io.StringIO()
        doctor_code = await run_doctor(out=report)
        first = report.getvalue().splitlines()[0]
        if refusal is None:
            Settings.from_env()  # what main() runs before serving; it must not raise
            assert first.startswith("[PASS] configuration: url "), (name, report.getvalue())
            continue
        with pytest.raises(ConfigError):
            Settings.from_env()
        capsys.readouterr()
        assert main([]) == 2, name
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert captured.out == "" and len(lines) == 1 and refusal in lines[0], (name, captured)
        assert doctor_code == 2, name
        assert report.getvalue() == f"[FAIL] configuration: {lines[0].removeprefix('sharkfin-mcp: ')}\n"
        for secret in ("wf-k3y", "wf-key-from-file", "wf-key-one", "wf-clé", "X-Evil"):
            assert secret not in captured.err, (name, secret)


async def test_the_real_process_exits_2_with_one_line_and_doctor_with_the_same(tmp_path: Path) -> None:
    chosen = {"key with BOM and CRLF", "no scheme", "key with CRLF inside", "UTF-16 key file"}
    for name, settings, refusal in configurations(tmp_path):
        if name not in chosen:
            continue
        code, out, err = await run([], child_env(**settings))
        if refusal is None:
            # (a warning that the daemon is unreachable may race the exit; a refusal may not)
            assert code == 0 and out == "" and "sharkfin-mcp:" not in err and "Traceback" not in err
            continue
        lines = err.splitlines()
        assert code == 2 and out == "" and len(lines) == 1, (name, code, err)
        assert lines[0].startswith("sharkfin-mcp: ") and refusal in lines[0], (name, lines)
        if name == "no scheme":
            doctor_code, report, _ = await run(["doctor"], child_env(**settings))
            assert doctor_code == 2
            assert report == f"[FAIL] configuration: {lines[0].removeprefix('sharkfin-mcp: ')}\n"


# -- secret hygiene ---------------------------------------------------------------------------------

GOOD_RAW = '\ufeff  sk-"Quoted\'Agent"-0123456789\r\n'
GOOD = 'sk-"Quoted\'Agent"-0123456789'
WRONG = "sk-'Wrong\"Key'-9876543210"
REFUSED = ["sk-line\r\nX-Injected: 0123456789", "sk-ünïcødé-0123456789", "sk-tab\tinside-0123456789"]
LEVELS = ["DEBUG", "info", "WARNING", "error"]


class Wire:
    """A raw JSON-RPC session with a stdio server: one line out, the matching reply back."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.next_id = 0
        self.buffer = b""
        self.stdout: list[str] = []

    async def send(self, method: str, params: dict[str, Any] | None = None, *, notify: bool = False) -> Any:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
        if not notify:
            self.next_id += 1
            message["id"] = self.next_id
        await self.process.stdin.send((json.dumps(message) + "\n").encode())
        if notify:
            return None
        while True:
            while b"\n" not in self.buffer:
                self.buffer += await self.process.stdout.receive()
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.stdout.append(line.decode())
            reply = json.loads(line)
            if reply.get("id") == self.next_id:
                return reply

    async def tool(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        reply = await self.send("tools/call", {"name": name, "arguments": args})
        return dict(reply["result"])


async def session(sandbox: Sandbox, raw_key: str, level: str) -> tuple[str, str, bool]:
    """Everything the process wrote (stdout, stderr) over a session that touches tools and
    resources, and whether the key was accepted."""
    env = child_env(SHARKFIN_URL=sandbox.ws_url, SHARKFIN_API_KEY=raw_key, SHARKFIN_LOG_LEVEL=level)
    process = await anyio.open_process(CLI, env=env, cwd=ROOT)
    stderr = b""
    accepted = False
    async with process:

        async def drain() -> None:
            nonlocal stderr
            async for chunk in process.stderr:  # type: ignore[union-attr]
                stderr += chunk

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(drain)
            wire = Wire(process)
            with anyio.fail_after(30):
                await wire.send("initialize", INITIALIZE["params"])
                await wire.send("notifications/initialized", notify=True)
                for _ in range(100):
                    who = await wire.tool("whoami", {})
                    text = json.dumps(who)
                    if not who.get("isError"):
                        accepted = True
                        break
                    if "rejected the API key" in text:
                        break
                    await anyio.sleep(0.05)
                await wire.tool("channel_join", {"channel": "general"})
                await wire.tool("send_message", {"channel": "general", "body": "hello"})
                await wire.tool("history", {"channel": "nope"})
                await wire.tool("poll_events", {})
                await wire.send("resources/read", {"uri": "sharkfin://channels/nope/history"})
                await wire.send("resources/read", {"uri": "sharkfin://me"})
            await process.stdin.aclose()  # type: ignore[union-attr]
            with anyio.fail_after(10):
                await process.wait()
    return "\n".join(wire.stdout), stderr.decode("utf-8", "replace"), accepted


def fragments(key: str) -> list[str]:
    """The key and every run of 8+ characters of it, so a partly redacted key is caught too."""
    clean = key.strip(" \t\r\n\ufeff")
    return [clean] + [clean[i : i + 8] for i in range(len(clean) - 7)]


@pytest.mark.parametrize("level", LEVELS)
async def test_odd_keys_never_leak_at_any_log_level(
    sandbox: Sandbox, level: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key with a BOM, CR/LF around it and quotes inside (accepted), and a wrong one with quotes
    (rejected by the daemon), over whole stdio sessions; keys that cannot be sent at all are
    refused before anything is logged."""
    sandbox.add_identity(Identity("carol", GOOD, "user"))
    results: dict[str, tuple[str, str, bool]] = {}

    async def one(raw: str) -> None:
        results[raw] = await session(sandbox, raw, level)

    async with anyio.create_task_group() as tasks:
        for raw in (GOOD_RAW, WRONG):
            tasks.start_soon(one, raw)
    for raw, should_work in ((GOOD_RAW, True), (WRONG, False)):
        out, err, accepted = results[raw]
        assert accepted is should_work, err[-2000:]
        for piece in fragments(raw):
            assert piece not in out, f"key fragment {piece!r} in stdout"
            assert piece not in err, f"key fragment {piece!r} in stderr"
        if level.upper() == "DEBUG":
            assert "***" in err  # the handshake was logged, and redacted
        elif should_work:
            # quiet while things work: no start-up chatter, no httpx line per REST call, no line
            # per failed tool call (the unknown channel above)
            assert err == "", err
        else:
            assert "Traceback" not in err
    from sharkfin_mcp.cli import main

    monkeypatch.setenv("SHARKFIN_LOG_LEVEL", level)
    for raw in REFUSED:
        monkeypatch.setenv("SHARKFIN_API_KEY", raw)
        capsys.readouterr()
        assert main([]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.splitlines()) == 1, captured
        assert "cannot be sent in an HTTP header" in captured.err
        for piece in fragments(raw.replace("\r\n", " ").replace("\t", " ")):
            assert piece not in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["--url", "127.0.0.1:1"],
        ["--log-level", "loud"],
        ["--tools", "x"],
        ["--transport", "http", "--host", "0.0.0.0"],
    ],
)
async def test_doctor_takes_the_server_flags_and_agrees(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sharkfin_mcp._doctor import run_doctor
    from sharkfin_mcp.cli import _parser, main

    for variable in [v for v in os.environ if v.startswith("SHARKFIN_")]:
        monkeypatch.delenv(variable)
    capsys.readouterr()
    assert main(argv) == 2
    line = capsys.readouterr().err.strip()
    report = io.StringIO()
    assert await run_doctor(out=report, flags=vars(_parser().parse_args(argv))) == 2
    assert report.getvalue() == f"[FAIL] configuration: {line.removeprefix('sharkfin-mcp: ')}\n"
