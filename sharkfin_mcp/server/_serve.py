"""Run the server on a transport until stdin closes or a signal arrives, then shut down fast.

Clients kill servers that linger (and servers that ignore SIGTERM pile up as orphans), so a
signal cancels everything, the lifespan closes the daemon sockets (the identity goes offline),
and a watchdog ends the process if a blocked stdin read would otherwise hold it open.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from ._config import Settings
from ._lifespan import RUNTIME_CLOSED
from ._stdio import serve_stdio

__all__ = ["BearerTokenGate", "ListenError", "serve"]

log = logging.getLogger("sharkfin_mcp.server")
STDIO_GRACE = 0.06
"""Seconds a stopping stdio server may spend closing its daemon sockets before it exits anyway.
Claude Code sends SIGTERM 100 ms after SIGINT; the kernel closes whatever is still open, and the
daemon takes a closed TCP connection as the identity leaving, close frame or not."""
HTTP_GRACE = 1.5
"""HTTP mode lets uvicorn finish the responses in flight first."""


class ListenError(OSError):
    """HTTP mode could not listen on the configured address (busy port, no such address)."""


async def serve(settings: Settings) -> None:
    """Serve until stdin closes or SIGINT/SIGTERM. Raises ListenError (one sentence) when HTTP
    mode cannot bind its address."""
    from . import build_server

    _import_in_background("httpx")
    mcp = build_server(settings)
    if settings.transport == "http":
        listener = _listen(settings.host, settings.port)
        server = _http_server(mcp, settings)

        def stop() -> None:
            server.should_exit = True  # uvicorn then runs the lifespan's shutdown

        with _stop_on_signals(stop, HTTP_GRACE):
            host, port = listener.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            log.info("serving MCP over streamable HTTP at http://%s:%d/mcp", shown, port)
            await server.serve(sockets=[listener])
        return
    async with anyio.create_task_group() as tasks:
        with _stop_on_signals(tasks.cancel_scope.cancel, STDIO_GRACE):
            await serve_stdio(mcp, settings.stdio_transport)
        tasks.cancel_scope.cancel()


def _import_in_background(module: str) -> None:
    """Import ``module`` on a worker thread now, rather than on the event loop at its first use
    (httpx, for the first REST call: ~0.1-0.5 s during which stdin EOF would go unnoticed)."""
    import importlib

    threading.Thread(target=importlib.import_module, args=(module,), daemon=True, name="warm-import").start()


def shutdown_signals(platform: str | None = None) -> tuple[signal.Signals, ...]:
    """The signals that stop the server. On Windows only SIGINT (Ctrl-C, CTRL_C_EVENT): SIGTERM is
    TerminateProcess there, which no process can catch; stdin EOF stops us as usual."""
    if (platform or sys.platform) == "win32":
        return (signal.SIGINT,)
    return (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None], grace: float) -> Iterator[None]:
    """SIGINT and SIGTERM start the exit watchdog at once, from the signal handler itself (it
    runs between bytecodes even while the event loop is busy, say importing a module), then ask
    the loop to ``stop``."""
    loop = asyncio.get_running_loop()

    def stop_soon(signum: int) -> None:
        log.debug("received %s: shutting down", signal.Signals(signum).name)
        stop()

    def on_signal(signum: int, _: object) -> None:
        _exit_later(grace)
        loop.call_soon_threadsafe(stop_soon, signum)

    signals = shutdown_signals()
    previous = {signum: signal.signal(signum, on_signal) for signum in signals}
    # A signal may land on a worker thread; Python runs the handler in the main thread only once
    # that thread wakes, which an idle event loop does only at its next timeout (seen: ~100 ms).
    # The wakeup fd makes the C-level handler wake the loop's selector at once.
    wake_read, wake_write = socket.socketpair()
    wake_read.setblocking(False)
    wake_write.setblocking(False)
    loop.add_reader(wake_read.fileno(), _drain, wake_read)
    previous_fd = signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        loop.remove_reader(wake_read.fileno())
        wake_read.close()
        wake_write.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(64):
            pass


def _exit_later(seconds: float) -> None:
    """A blocked stdin read in a worker thread cannot be cancelled, and a loop busy elsewhere may
    not get to closing the sockets in time: exit once the daemon sockets are closed, or when the
    grace period is over, whichever comes first."""

    def exit_when_closed() -> None:
        RUNTIME_CLOSED.wait(seconds)
        logging.shutdown()
        os._exit(0)

    threading.Thread(target=exit_when_closed, daemon=True, name="sharkfin-exit").start()


def _listen(host: str, port: int) -> socket.socket:
    """Bind the HTTP address ourselves, so a busy port is one sentence (not uvicorn's traceback)
    and port 0 can be reported as the port actually chosen."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        hint = (
            " (another process uses that port: pick another with --port)"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    listener.set_inheritable(True)
    return listener


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


OAUTH_DISCOVERY = ("/.well-known/oauth-protected-resource", "/.well-known/oauth-authorization-server")
NOT_OAUTH = (
    b'{"error":"not found: this server takes a static access token, not OAuth; send '
    b'Authorization: Bearer <SHARKFIN_MCP_TOKEN> on every request"}'
)
UNAUTHORIZED = (
    b'{"error":"missing or wrong access token: send the header Authorization: Bearer <token>, '
    b"where <token> is the value of SHARKFIN_MCP_TOKEN in this server's configuration\"}"
)


class BearerTokenGate:
    """Requires ``Authorization: Bearer <token>`` on every HTTP request (probes use plain TCP).

    OAuth discovery (``/.well-known/oauth-*``, ``/register``) answers 404, not 401: a 401 there
    makes clients such as Claude Code start an OAuth flow and report a registration failure,
    where a 404 makes them fall back to the configured header.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import hmac

        path = str(scope.get("path", ""))
        if path.startswith(OAUTH_DISCOVERY) or path == "/register":
            await _answer(send, 404, NOT_OAUTH)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        await _answer(send, 401, UNAUTHORIZED, (b"www-authenticate", b"Bearer"))


async def _answer(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
