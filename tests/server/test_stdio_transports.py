"""Both stdio transports, chosen explicitly: our asyncio pipe transport (Linux) and the SDK's own
(Windows, macOS, regular files, or ``SHARKFIN_STDIO_TRANSPORT=sdk``), each driven through a real
``sharkfin-mcp --sandbox`` subprocess with LF and CRLF line endings, so the fallback that Windows
users get is exercised here, not only imported. Plus the rule itself as a property, and the other
platform assumptions: no signal handlers on Windows, key files written by Windows editors.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sharkfin_mcp
from sharkfin_mcp.server import Settings
from sharkfin_mcp.server._serve import _stop_on_signals, shutdown_signals
from sharkfin_mcp.server._stdio_choice import STDIO_TRANSPORT_ENV, choose_stdio_transport
from sharkfin_mcp.server.tools import DEFAULT_TOOLS

from .._protocol import INITIALIZE

ROOT = str(Path(sharkfin_mcp.__file__).resolve().parents[1])
REQUESTS = [
    INITIALIZE,
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "capabilities", "arguments": {}}},
]


def _lines_into(stream: IO[bytes], out: queue.Queue[bytes | None]) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


Answers = dict[int, Any]


def serve_raw(transport: str, newline: str, stdin_file: Path | None = None) -> tuple[Answers, str, int]:
    """Start the server with the given transport, send REQUESTS with the given line ending, and
    collect the answers by id, then close stdin: (answers, stderr, exit code)."""
    env = {
        **os.environ,
        "PYTHONPATH": ROOT,
        STDIO_TRANSPORT_ENV: transport,
        "SHARKFIN_LOG_LEVEL": "DEBUG",
    }
    wire = "".join(json.dumps(r) + newline for r in REQUESTS).encode()
    stdin: Any = subprocess.PIPE if stdin_file is None else stdin_file.open("rb")
    process = subprocess.Popen(
        [sys.executable, "-m", "sharkfin_mcp.cli", "--sandbox"],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    errors: list[bytes] = []
    readers = [
        threading.Thread(target=_lines_into, args=(process.stdout, lines), daemon=True),
        threading.Thread(target=lambda: errors.extend(process.stderr or []), daemon=True),
    ]
    for reader in readers:
        reader.start()
    answers: dict[int, Any] = {}
    try:
        if process.stdin is not None:
            process.stdin.write(wire)
            process.stdin.flush()
        while len(answers) < 3:
            line = lines.get(timeout=60)
            if line is None:
                break
            message = json.loads(line)  # stdout carries nothing but JSON-RPC
            answers[message["id"]] = message
    finally:
        if process.stdin is not None:
            process.stdin.close()
        if stdin_file is not None:
            stdin.close()
        code = process.wait(timeout=30)
        for reader in readers:
            reader.join(timeout=10)
        process.stdout.close()
        process.stderr.close()
    return answers, b"".join(errors).decode("utf-8", "replace"), code


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("transport", ["pipes", "sdk"])
def test_both_transports_serve_over_a_real_pipe(transport: str, newline: str) -> None:
    if transport == "pipes" and sys.platform == "win32":
        pytest.skip("the pipe transport is never used on Windows")
    answers, stderr, code = serve_raw(transport, newline)
    assert f"stdio transport: {transport}" in stderr, stderr[-2000:]
    assert answers[1]["result"]["serverInfo"]["name"] == "sharkfin"
    assert len(answers[2]["result"]["tools"]) == len(DEFAULT_TOOLS)
    assert answers[3]["result"]["isError"] is False, answers[3]
    assert answers[3]["result"]["structuredContent"]["permissions"], answers[3]
    assert code == 0, stderr[-2000:]


def test_a_regular_file_on_stdin_falls_back_to_the_sdk_transport(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(r) + "\n" for r in REQUESTS[:3]), encoding="utf-8")
    answers, stderr, code = serve_raw("auto", "\n", stdin_file=requests)
    assert "stdio transport: sdk" in stderr, stderr[-2000:]
    assert answers[1]["result"]["serverInfo"]["name"] == "sharkfin"
    assert code == 0


# -- the rule -----------------------------------------------------------------------------------

# On Windows a socket is a handle, not a C runtime descriptor, so it cannot stand in for stdin.
FD_KINDS = ["pipe", "file", "closed"] + ([] if sys.platform == "win32" else ["socket"])


def _fd(kind: str, keep: list[Any]) -> int:
    if kind == "pipe":
        r, w = os.pipe()
        keep += [r, w]
        return r
    if kind == "socket":
        a, b = socket.socketpair()
        keep += [a, b]
        return a.fileno()
    if kind == "file":
        f = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller with the others
        keep.append(f)
        return f.fileno()
    closed = 4321  # far above what a test process opens; fstat fails on it
    with pytest.raises(OSError):
        os.fstat(closed)
    return closed


@settings(max_examples=200, deadline=None)
@given(
    setting=st.sampled_from([None, "", "auto", "AUTO", "pipes", " Pipes ", "sdk", "threads", "1"]),
    platform=st.sampled_from(["linux", "darwin", "win32", "cygwin", "freebsd14"]),
    kinds=st.tuples(st.sampled_from(FD_KINDS), st.sampled_from(FD_KINDS)),
)
def test_the_choice_is_pipes_only_where_the_pipe_transport_can_work(
    setting: str | None, platform: str, kinds: tuple[str, str]
) -> None:
    keep: list[Any] = []
    try:
        fds = [_fd(kind, keep) for kind in kinds]
        env = {} if setting is None else {STDIO_TRANSPORT_ENV: setting}
        chosen = choose_stdio_transport(env, platform=platform, fds=fds)
    finally:
        for item in keep:
            item.close() if hasattr(item, "close") else os.close(item)
    drivable = platform != "win32" and all(kind in ("pipe", "socket") for kind in kinds)
    requested = (setting or "auto").strip().lower()
    if requested == "sdk" or not drivable:
        assert chosen == "sdk"
    elif requested == "pipes":
        assert chosen == "pipes"
    else:  # auto, or an unknown value treated as auto
        assert chosen == ("pipes" if platform == "linux" else "sdk")


# -- other platform assumptions -----------------------------------------------------------------


def test_only_sigint_is_handled_on_windows() -> None:
    assert shutdown_signals("win32") == (signal.SIGINT,)
    assert {s.name for s in shutdown_signals("linux")} == {"SIGTERM", "SIGINT"}
    assert {s.name for s in shutdown_signals("darwin")} == {"SIGTERM", "SIGINT"}


@pytest.mark.anyio
async def test_on_windows_sigterm_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    before_term, before_int = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with _stop_on_signals(lambda: None, 1.0):
        assert signal.getsignal(signal.SIGTERM) is before_term
        assert signal.getsignal(signal.SIGINT) is not before_int
    assert signal.getsignal(signal.SIGINT) is before_int


@pytest.mark.parametrize(
    "content",
    [b"k-123\n", b"k-123\r\n", b"\xef\xbb\xbfk-123\r\n", b"  k-123  \r\n\r\n"],
    ids=["LF", "CRLF", "BOM+CRLF (Notepad)", "padded"],
)
def test_key_files_from_any_editor_give_the_same_key(tmp_path: Path, content: bytes) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(content)
    settings = Settings.from_env({"SHARKFIN_API_KEY_FILE": str(key_file)})
    assert settings.api_key == "k-123"
