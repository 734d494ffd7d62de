"""Logging for a process whose stderr MCP clients show as errors: quiet unless something is wrong.

Claude Code logs every stderr line of a server as ``[ERROR]``, so at the default level only our
own INFO lines (HTTP mode's listening address, a recovered connection) and anyone's warnings and
errors are written. Libraries' INFO lines (httpx per request, the SDK per failed tool call,
uvicorn, websockets' handshakes) are routine: they appear at DEBUG only.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]

ROUTINE = ("httpx", "httpcore", "mcp", "uvicorn", "websockets", "sharkfin_mcp.client.wire", "sse_starlette")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send records to stderr at ``level`` (a name such as ``"INFO"``); libraries at WARNING
    unless ``level`` is DEBUG. Runs before the SDK's own ``basicConfig``, which then does nothing."""
    logging.basicConfig(level=level, stream=sys.stderr, format=FORMAT, force=True)
    floor = logging.DEBUG if level == "DEBUG" else max(logging.WARNING, logging.getLevelName(level))
    for name in ROUTINE:
        logging.getLogger(name).setLevel(floor)
