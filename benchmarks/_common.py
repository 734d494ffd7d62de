"""Shared plumbing: a sandbox in its own process, server parameters, /proc readings, statistics."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KEYS = {
    "agent": "demo-agent-key",
    "alice": "demo-alice-key",
    "bob": "demo-bob-key",
    "flow-bot": "demo-flow-bot-key",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")
INITIALIZE_PARAMS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "sharkfin-bench", "version": "0"},
}
"""What every benchmark client sends as ``initialize`` (handshake era)."""
INITIALIZE = (
    json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE_PARAMS}) + "\n"
).encode()
"""The same request as one stdio line, for clients that write raw bytes."""


async def join(ws_url: str, channel: str, *names: str) -> None:
    """Each of ``names`` (keys of :data:`KEYS`) joins ``channel``."""
    from sharkfin_mcp.client import SharkfinClient

    for name in names:
        async with await SharkfinClient.connect(ws_url, api_key=KEYS[name]) as client:
            await client.join_channel(channel)


# -- statistics ------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (q in [0, 1]); NaN for no data."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "median_ms": quantile(ms, 0.5),
        "p90_ms": quantile(ms, 0.9),
        "p99_ms": quantile(ms, 0.99),
        "min_ms": min(ms) if ms else float("nan"),
        "max_ms": max(ms) if ms else float("nan"),
    }


# -- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env() -> dict[str, str]:
    """What a stdio MCP client would pass (plus PYTHONUNBUFFERED)."""
    env = {k: os.environ[k] for k in ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER") if k in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)  # children find this checkout even without an editable install
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        env["PYTHONDONTWRITEBYTECODE"] = os.environ["PYTHONDONTWRITEBYTECODE"]
    return env


def server_command() -> list[str]:
    script = BIN / "sharkfin-mcp"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sharkfin_mcp.cli"]


def server_env(ws_url: str, identity: str = "agent", **extra: str) -> dict[str, str]:
    env = base_env()
    env.update(
        SHARKFIN_URL=ws_url,
        SHARKFIN_API_KEY=KEYS[identity],
        SHARKFIN_LOG_LEVEL="WARNING",
        # the send-rate guard (60/min by default) would stop the send_message benchmark
        SHARKFIN_MAX_SENDS_PER_MINUTE="1000000",
    )
    env.update(extra)
    return env


def server_params(ws_url: str, identity: str = "agent", **extra: str) -> StdioServerParameters:
    command = server_command()
    return StdioServerParameters(
        command=command[0], args=command[1:], env=server_env(ws_url, identity, **extra), cwd=str(ROOT)
    )


@dataclass
class SandboxProc:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def sandbox_process() -> Iterator[SandboxProc]:
    """``python -m sharkfin_mcp.sandbox`` on a free loopback port, in its own process and loop."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sharkfin_mcp.sandbox", "--port", str(port), "--presence-timeout", "120"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"sandbox exited with {process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("sandbox did not start listening within 30 s")
            time.sleep(0.05)
        yield SandboxProc(port, process)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def child_server_pid(exclude: frozenset[int] = frozenset()) -> int:
    """The pid of the sharkfin-mcp process our stdio client spawned (a child of this process),
    other than those in ``exclude``."""
    me = os.getpid()
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if int(entry) in exclude:
            continue
        if ppid == me and ("sharkfin-mcp" in cmdline or "sharkfin_mcp.cli" in cmdline):
            found.append(int(entry))
    if len(found) != 1:
        raise RuntimeError(f"expected one sharkfin-mcp child process, found {found}")
    return found[0]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kib(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def structured(result: Any) -> dict[str, Any]:
    """The structured content of a CallToolResult, failing loudly on tool errors."""
    if getattr(result, "is_error", False):
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise RuntimeError(f"tool call failed: {text}")
    content = result.structured_content
    if content is None:
        content = json.loads(result.content[0].text)
    return dict(content)
