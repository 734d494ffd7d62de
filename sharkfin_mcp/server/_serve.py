"""Run the server on a transport until stdin closes or a signal arrives, then shut down fast.

Clients kill servers that linger (and servers that ignore SIGTERM pile up as orphans), so a
signal cancels everything, the lifespan closes the daemon sockets (the identity goes offline),
and a watchdog ends the process if a blocked stdin read would otherwise hold it open.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from ._config import Settings
from ._runtime import RUNTIME_CLOSED
from ._stdio import serve_stdio

__all__ = ["BearerTokenGate", "serve"]

log = logging.getLogger("sharkfin_mcp.server")
SHUTDOWN_GRACE = 1.5


async def serve(settings: Settings) -> None:
    from . import build_server

    mcp = build_server(settings)
    async with anyio.create_task_group() as tasks:
        if settings.transport == "http":
            server = _http_server(mcp, settings)

            def stop() -> None:
                server.should_exit = True  # uvicorn then runs the lifespan's shutdown

            tasks.start_soon(_stop_on_signal, stop)
            await server.serve()
        else:
            tasks.start_soon(_stop_on_signal, tasks.cancel_scope.cancel)
            await serve_stdio(mcp)
        tasks.cancel_scope.cancel()


def shutdown_signals(platform: str | None = None) -> tuple[signal.Signals, ...]:
    """The signals that stop the server. None on Windows: asyncio has no signal handlers there
    (``open_signal_receiver`` raises NotImplementedError), SIGTERM is TerminateProcess, which no
    process can catch, and Ctrl-C reaches us as KeyboardInterrupt; stdin EOF stops us as usual."""
    return () if (platform or sys.platform) == "win32" else (signal.SIGTERM, signal.SIGINT)


async def _stop_on_signal(stop: Callable[[], None]) -> None:
    handled = shutdown_signals()
    if not handled:
        return
    with anyio.open_signal_receiver(*handled) as signals:
        async for signum in signals:
            log.info("received %s: shutting down", signal.Signals(signum).name)
            _exit_later(SHUTDOWN_GRACE)
            stop()
            return


def _exit_later(seconds: float) -> None:
    """A blocked stdin read in a worker thread cannot be cancelled; do not let it keep us alive
    once the daemon sockets are closed (or the grace period is over)."""

    def exit_when_closed() -> None:
        RUNTIME_CLOSED.wait(seconds)
        logging.shutdown()
        os._exit(0)

    threading.Thread(target=exit_when_closed, daemon=True, name="sharkfin-exit").start()


def _http_server(mcp: Any, settings: Settings) -> Any:
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        def capture_signals(self) -> Any:
            return contextlib.nullcontext()

    app: ASGIApp = mcp.streamable_http_app(host=settings.host)
    if settings.http_token:
        app = BearerTokenGate(app, settings.http_token)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", lifespan="on")
    return Server(config)


class BearerTokenGate:
    """Requires ``Authorization: Bearer <token>`` on every HTTP request (probes use plain TCP)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import hmac

        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        body = b'{"error":"missing or wrong access token: send Authorization: Bearer <SHARKFIN_MCP_TOKEN>"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
            }
        )
        await send({"type": "http.response.body", "body": body})
