"""A ``sharkfin-mcp`` stdio process on raw pipes, for tests that write and read the wire bytes
themselves (what SDK clients cannot send, or what they would hide)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import anyio

import sharkfin_mcp

from ._protocol import INITIALIZE

ROOT = str(Path(sharkfin_mcp.__file__).resolve().parents[1])
"""Run the subprocess on the same sources as this test process."""


class RawServer:
    """A ``sharkfin-mcp`` process on raw pipes, with background readers for stdout and stderr."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        full_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), **env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sharkfin_mcp.cli", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=ROOT,
        )
        self.stdout_lines: queue.Queue[bytes] = queue.Queue()
        self.all_stdout: list[bytes] = []
        self.all_stderr: list[bytes] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.all_stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.all_stderr, False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self, stream: IO[bytes], sink: list[bytes], to_queue: bool) -> None:
        for line in iter(stream.readline, b""):
            sink.append(line)
            if to_queue:
                self.stdout_lines.put(line)

    def write(self, raw: bytes | str) -> None:
        """One line to the server's stdin, as is (it need not be JSON)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((raw.encode() if isinstance(raw, str) else raw) + b"\n")
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.write(json.dumps(message))

    def next(self, timeout: float = 15.0) -> Any:
        """The next line the server writes, parsed (a notification is skipped). Blocking."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "no reply"
            try:
                line = self.stdout_lines.get(timeout=left)
            except queue.Empty:
                continue
            value = json.loads(line)
            if isinstance(value, dict) and "id" not in value:
                continue  # a notification
            return value

    async def reply(self, request_id: int, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no reply to request {request_id}"
            try:
                line = await anyio.to_thread.run_sync(self.stdout_lines.get, True, min(left, 0.5))
            except queue.Empty:
                continue
            message = json.loads(line)
            if message.get("id") == request_id:
                return dict(message)

    def initialize(self) -> None:
        self.send(INITIALIZE)

    def call(self, request_id: int, tool: str, args: dict[str, Any]) -> None:
        self.send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "tools/call",
                "params": {"name": tool, "arguments": args},
            }
        )

    def stderr_text(self) -> str:
        return b"".join(self.all_stderr).decode(errors="replace")

    def close(self, timeout: float = 5.0) -> int:
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for t in self._threads:
                t.join(timeout=2)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
        return code
