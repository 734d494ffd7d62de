"""Which stdio transport serves MCP: our asyncio pipe transport, or the SDK's own.

The pipe transport (``_stdio.py``) saves three worker-thread hops per request, but it is only
known to work where it has been run: Linux, with stdin and stdout both pipes, sockets or
character devices. Elsewhere the SDK's ``stdio_server`` (threads over anyio file wrappers) is
used, because it is what every other MCP server runs on:

- Windows: the Proactor event loop's pipe support does not cover every kind of standard handle an
  MCP client may pass (consoles, files, anonymous pipes opened without overlapped I/O), and our
  transport also relies on ``os.dup2`` of fds 0 and 1 and ``os.set_blocking``.
- macOS and other systems: not run here; the release workflow's macOS job runs the forced
  ``pipes`` path too, so it can be enabled once that has passed there.
- stdin or stdout a regular file (``server < requests.jsonl``): asyncio cannot drive it at all.

``SHARKFIN_STDIO_TRANSPORT`` forces a choice: ``auto`` (default), ``pipes`` or ``sdk``. Forcing
``pipes`` on descriptors asyncio cannot drive still uses the SDK (it would fail otherwise), with
a warning. An unknown value is treated as ``auto``, with a warning on stderr.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import Literal

__all__ = ["STDIO_TRANSPORT_ENV", "StdioTransport", "choose_stdio_transport"]

STDIO_TRANSPORT_ENV = "SHARKFIN_STDIO_TRANSPORT"
StdioTransport = Literal["pipes", "sdk"]
CHOICES = ("auto", "pipes", "sdk")
KNOWN_GOOD_PLATFORMS = ("linux",)

log = logging.getLogger("sharkfin_mcp.server")


def _is_pipe_like(fd: int) -> bool:
    """Pipes and sockets only: character devices include /dev/null, which epoll refuses (the
    server would then never see EOF); a terminal works through the SDK's transport."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:  # closed or invalid descriptor: leave it to the SDK's transport
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def choose_stdio_transport(
    env: Mapping[str, str] | None = None,
    *,
    platform: str | None = None,
    fds: Sequence[int] = (0, 1),
) -> StdioTransport:
    """``"pipes"`` or ``"sdk"`` for this process (see the module docstring for the rules).

    ``env`` defaults to ``os.environ``, ``platform`` to ``sys.platform``; ``fds`` are stdin and
    stdout. Never raises: a bad setting falls back to ``auto`` and is logged."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    requested = (env.get(STDIO_TRANSPORT_ENV) or "auto").strip().lower()
    if requested not in CHOICES:
        log.warning("%s=%r is not one of %s; using auto", STDIO_TRANSPORT_ENV, requested, ", ".join(CHOICES))
        requested = "auto"
    if requested == "sdk":
        return "sdk"
    drivable = platform != "win32" and all(_is_pipe_like(fd) for fd in fds)
    if requested == "pipes":
        if not drivable:
            log.warning("%s=pipes, but asyncio cannot drive stdin/stdout; using sdk", STDIO_TRANSPORT_ENV)
            return "sdk"
        return "pipes"
    return "pipes" if drivable and platform.startswith(KNOWN_GOOD_PLATFORMS) else "sdk"
