"""Sandbox lifecycle: a uvicorn server on a real loopback port, started and stopped in-process.

Uvicorn is asyncio-only, so the server runs in an asyncio task (holding an anyio task
group for the server and the webhook sender). That lets ``start()`` and ``stop()`` be
called from different tasks, unlike a task group entered in ``start()``. The listening
socket is bound by us first, so ``port=0`` yields the real port before ``start()``
returns, and a restart rebinds the same port (``SO_REUSEADDR``). State lives in
:class:`State`, outside the server, so it survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any

import anyio
import httpx
import uvicorn

from ._app import App
from ._auth import Identity
from ._mcp import McpEndpoint
from ._state import State
from ._ws import Hub

DEMO_IDENTITIES: tuple[Identity, ...] = (
    Identity("agent", "demo-agent-key", "agent"),
    Identity("alice", "demo-alice-key", "user"),
    Identity("bob", "demo-bob-key", "user"),
    Identity("flow-bot", "demo-flow-bot-key", "service"),
)


class _DenialNoiseFilter(logging.Filter):
    """Uvicorn's sans-io WebSocket protocol logs an ERROR after a correctly sent denial
    response (our 401/403 before the upgrade); that line is noise, drop just it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


_DENIAL_FILTER = _DenialNoiseFilter()


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Sandbox:
    """An in-process fake Sharkfin daemon on ``host:port`` (HTTP + WebSocket)."""

    def __init__(
        self,
        identities: Iterable[Identity] = DEMO_IDENTITIES,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        provision: bool = True,
        presence_timeout: float = 20.0,
        version: str = "v0.0.0-sandbox",
    ) -> None:
        self.host = host
        self.port = port
        self.presence_timeout = presence_timeout
        self._identities: dict[str, Identity] = {}
        self._keys: dict[str, Identity] = {}
        self.state = State()
        self.hub = Hub(self.state, version=version)
        self.mcp = McpEndpoint(self.hub)
        """``/mcp`` sessions; ``stop()`` forgets them, as a daemon restart does."""
        for identity in identities:
            self.add_identity(identity)
            if provision:
                self.state.upsert_identity(identity.username, identity.type)
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    # ---- configuration ---------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def stall(self) -> bool:
        return self.hub.stall

    @stall.setter
    def stall(self, value: bool) -> None:
        self.hub.stall = value

    @property
    def drop_replies(self) -> int:
        return self.hub.drop_replies

    @drop_replies.setter
    def drop_replies(self, value: int) -> None:
        self.hub.drop_replies = value

    def drop_next_reply(self, request_type: str, count: int = 1) -> None:
        """Carry out the next ``count`` requests of this type but drop their replies (a reply
        lost on the way back, as when the daemon's outbound queue is full, PROTOCOL.md §4.2)."""
        self.hub.drop_replies_to[request_type] = self.hub.drop_replies_to.get(request_type, 0) + count

    @property
    def clock(self) -> Callable[[], datetime]:
        """Source of all timestamps; replace it to make ``sent_at`` deterministic."""
        return self.state.clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self.state.clock = value

    def key(self, username: str) -> str:
        return self._identities[username].key

    def add_identity(self, identity: Identity) -> None:
        self._identities[identity.username] = identity
        self._keys[identity.key] = identity

    def set_role(self, username: str, role: str, *, push: bool = False) -> None:
        row = self.state.identities.get(username)
        if row is None:
            raise KeyError(f"user not found: {username}")
        row.role = role
        if push:
            self.hub.push_capabilities(role)

    def grant_permission(self, role: str, permission: str, *, push: bool = False) -> None:
        self.state.roles.setdefault(role, set()).add(permission)
        if push:
            self.hub.push_capabilities(role)

    def revoke_permission(self, role: str, permission: str, *, push: bool = False) -> None:
        self.state.roles.setdefault(role, set()).discard(permission)
        if push:
            self.hub.push_capabilities(role)

    # ---- read-only helpers for tests ---------------------------------------------------

    def message_count(self) -> int:
        return len(self.state.messages)

    def messages_for_test(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored messages (optionally of one channel) as plain dicts, ascending id."""
        out = []
        for m in sorted(self.state.messages.values(), key=lambda m: m.id):
            name = self.state.channels[m.channel_id].name
            if channel is None or channel == name:
                out.append(
                    {
                        "id": m.id,
                        "channel": name,
                        "from": m.sender,
                        "body": m.body,
                        "thread_id": m.thread_id,
                        "metadata": m.metadata,
                        "mentions": sorted(m.mentions),
                    }
                )
        return out

    def role_of(self, username: str) -> str:
        return self.state.identities[username].role

    def is_connected(self, username: str) -> bool:
        """True while ``username`` is the hub's push target (has a live ``/ws``)."""
        return username in self.hub.targets

    @property
    def webhook_deliveries(self) -> list[tuple[str, dict[str, Any]]]:
        """Every webhook POST the sandbox decided to make (url, payload), in order."""
        return self.hub.deliveries

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted sockets; without it keep-alive requests stall ~40 ms (Nagle + delayed ACK).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("sandbox already running")
        sock = self._bind()
        half = self.presence_timeout / 2
        config = uvicorn.Config(
            App(self.hub, self._keys, self.hub.all_conns.add, self.mcp),
            lifespan="off",
            ws="websockets-sansio",
            ws_ping_interval=half,
            ws_ping_timeout=half,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = _QuietServer(config)
        config.load()  # configures uvicorn's loggers; add our filter after that
        logging.getLogger("uvicorn.error").addFilter(_DENIAL_FILTER)
        self._server = server
        self._task = asyncio.get_running_loop().create_task(self._run(server, sock))
        while not server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("sandbox failed to start")
            await asyncio.sleep(0.005)

    async def _run(self, server: _QuietServer, sock: socket.socket) -> None:
        send, receive = anyio.create_memory_object_stream[tuple[str, dict[str, Any]]](64)
        self.hub.outbox = send
        try:
            async with httpx.AsyncClient(timeout=5.0) as http, anyio.create_task_group() as tg:

                async def post(url: str, payload: dict[str, Any]) -> None:
                    with contextlib.suppress(Exception):
                        await http.post(url, json=payload)

                async def sender() -> None:
                    async with receive:
                        async for url, payload in receive:
                            tg.start_soon(post, url, payload)

                tg.start_soon(sender)
                try:
                    await server.serve(sockets=[sock])
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self.hub.outbox = None
            send.close()
            sock.close()

    async def disconnect_all(self) -> None:
        """Cut every ``/ws``, ``/presence`` and notifications socket; keep serving."""
        conns = list(self.hub.all_conns)
        for conn in conns:
            conn.kill()
        with anyio.move_on_after(1.0):
            for conn in conns:
                await conn.done.wait()

    async def stop(self) -> None:
        task, server = self._task, self._server
        if task is None or server is None:
            return
        for listener in getattr(server, "servers", []):
            listener.close()  # stop accepting first, so a reconnecting client cannot slip back in
        await self.disconnect_all()
        self.mcp.reset()
        server.should_exit = True
        try:
            with anyio.move_on_after(1.5) as scope:
                await asyncio.shield(task)
            if scope.cancelled_caught:
                server.force_exit = True
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            self._task = None
            self._server = None


async def serve(
    identities: Iterable[Identity] = DEMO_IDENTITIES, host: str = "127.0.0.1", port: int = 16000
) -> None:
    """Run a sandbox until cancelled."""
    async with Sandbox(identities, host=host, port=port):
        await anyio.sleep_forever()
