"""A ``sharkfin-mcp --transport http`` child process on a free loopback port, for the tests that
talk to the server over streamable HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_server_process(
    *args: str, env: Mapping[str, str] | None = None, startup_deadline: float = 15.0
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``sharkfin-mcp --transport http --port <free> *args`` with ``os.environ`` plus ``env``; yields
    the process and its port once the port accepts connections. On exit: SIGTERM, then SIGKILL if
    it has not ended within 10 s."""
    port = free_port()
    command = [sys.executable, "-m", "sharkfin_mcp.cli", "--transport", "http", "--port", str(port), *args]
    child_env = {**os.environ, **(env or {})}
    process = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + startup_deadline
        while True:
            if process.poll() is not None:
                output = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(f"server exited: {output}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()
