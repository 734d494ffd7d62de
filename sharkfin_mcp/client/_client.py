"""``SharkfinClient``: one WebSocket to ``/ws`` carrying concurrent requests and pushed events.

How the connection behaves, and why:

* Requests are multiplexed by ``ref``; any number may be in flight. The daemon handles one
  connection's requests strictly in order, so concurrency here costs nothing and saves round trips.
* Every request has a timeout (30 s by default): the daemon silently drops frames, replies
  included, when a connection's outbound queue is full (PROTOCOL.md §4.2), so a reply may never come.
* On disconnect every pending request fails at once with :class:`NotConnected`; nothing hangs.
* Reconnection is opt-in (``reconnect=True`` or a backoff function). While reconnecting, requests
  fail fast with :class:`NotConnected`, or wait for the connection with ``wait_for_connection=True``.
* Events are delivered through a bounded stream (see :mod:`._events`); drops are counted and
  reported in-band.

The background reader is an ``asyncio`` task rather than an anyio task group because the
connection outlives any one ``async with`` block (``await SharkfinClient.connect(...)`` returns a
live client, as ``websockets.connect`` does); ``close()`` cancels and awaits every task it started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .._version import __version__
from ._admin import Role
from ._auth import WIRE_LOG, auth_headers, forget_secret, redact, remember_secret
from ._backoff import Backoff, ExponentialBackoff
from ._errors import (
    AuthenticationError,
    ClientClosed,
    ConnectError,
    NotConnected,
    RequestTimeout,
    SharkfinError,
    WrongAddress,
    server_error_from_http,
)
from ._events import DisconnectEvent, Event, EventStream, ReconnectEvent, parse_event
from ._models import (
    DM,
    Channel,
    DMOpened,
    MentionGroup,
    Message,
    RegisteredIdentity,
    UnreadCount,
    User,
    Webhook,
    decoded,
    items_of,
    metadata_as_text,
)
from ._protocol import Frame, RefCounter, decode_frame, encode_request, reply_payload
from ._rest import RESTClient
from ._urls import ws_url

__all__ = ["SharkfinClient"]

log = logging.getLogger("sharkfin_mcp.client")
CLOSE_TIMEOUT = 0.0
"""Seconds to wait for the daemon's side of the close handshake after sending ours: none. The
close frame (or the FIN that follows) already tells the daemon we left, and a process told to
stop by its MCP client has ~100 ms before it is killed."""

State = Literal["active", "idle"]
T = TypeVar("T")


class SharkfinClient:
    """The Python counterpart of the Go client's ``Client``.

    Use ``async with await SharkfinClient.connect(url, api_key=key) as client:`` or
    ``async with SharkfinClient(url, api_key=key) as client:`` (which connects on entry).
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        request_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        reconnect: bool | Backoff = False,
        wait_for_connection: bool = False,
        event_buffer: int = 1024,
        ping_interval: float | None = 10.0,
        max_message_size: int = 16 * 1024 * 1024,
    ) -> None:
        self.url = ws_url(url)
        self.rest = RESTClient(url, api_key=api_key, timeout=request_timeout)
        self.request_timeout = request_timeout
        self._headers = auth_headers(api_key)
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._max_message_size = max_message_size
        self._backoff: Backoff | None = ExponentialBackoff() if reconnect is True else (reconnect or None)
        self._wait_for_connection = wait_for_connection
        self._events = EventStream(event_buffer)
        self._refs = RefCounter()
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._ever_connected = False
        self._closed = False
        self.last_error: SharkfinError | None = None
        """Why the last connection attempt failed (``None`` once connected)."""
        self._api_key = api_key
        remember_secret(api_key)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self.connected else "disconnected"
        return f"<SharkfinClient {self.url} {state}>"

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: str, **options: Any) -> SharkfinClient:
        """Open a connection and return the client; raises if the first dial fails."""
        client = cls(url, **options)
        await client.open()
        return client

    async def open(self) -> None:
        """Dial once. Raises :class:`AuthenticationError` for a rejected key, else ConnectError."""
        self._check_open()
        self._attach(await self._dial())

    def open_in_background(self) -> None:
        """Start connecting without waiting, retrying with the backoff policy until it works.

        For servers that must answer their own callers at once whatever the daemon's state;
        ``last_error`` says why it is not connected yet.
        """
        self._check_open()
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.create_task(self._reconnect_loop(), name="sharkfin-connect")

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def dropped_events(self) -> int:
        return self._events.dropped

    async def wait_connected(self, within: float | None = None) -> bool:
        """Wait until connected; False if ``within`` seconds pass first."""
        try:
            async with asyncio.timeout(within):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Close the socket and stop every background task. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        tasks = [t for t in (self._supervisor, self._reader) if t is not None]
        if self._supervisor is not None:
            self._supervisor.cancel()
        ws, self._ws = self._ws, None
        self._connected.clear()
        self._fail_pending(ClientClosed("the client was closed"))
        if ws is not None:
            await ws.close()  # sends our close frame, then drops the socket (CLOSE_TIMEOUT)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._events.close()
        await self.rest.aclose()
        forget_secret(self._api_key)

    async def __aenter__(self) -> SharkfinClient:
        if not self.connected and self._supervisor is None:
            await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def events(self) -> AsyncIterator[Event]:
        """Pushed events, in arrival order; ends when the client closes (or gives up reconnecting).

        One consumer at a time. Events that arrive before iteration starts are kept (up to the
        buffer's capacity).
        """
        return aiter(self._events)

    # -- connection internals ----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosed("the client was closed")

    async def _dial(self) -> ClientConnection:
        """One connection attempt. Every failure becomes one of our errors here, with its text
        redacted: handshake errors and proxy pages may quote the request's headers."""
        try:
            return await ws_connect(
                self.url,
                additional_headers=self._headers,
                open_timeout=self._connect_timeout,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_interval,
                close_timeout=CLOSE_TIMEOUT,
                max_size=self._max_message_size,
                compression=None,
                user_agent_header=f"sharkfin-mcp/{__version__}",
                logger=WIRE_LOG,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace").strip() if exc.response.body else ""
            if status == 401:
                raise AuthenticationError(
                    f"Sharkfin at {self.url} rejected the API key (HTTP 401: {body or 'unauthorized'}); "
                    "check that the key is right and sent for this daemon",
                    401,
                ) from None
            if status == 404:
                raise WrongAddress(
                    f"{self.url} answered HTTP 404 to the WebSocket upgrade: no Sharkfin daemon "
                    "listens at that path (wrong path or port); check SHARKFIN_URL, which should look "
                    "like ws://host:port/ws"
                ) from None
            raise server_error_from_http(status, body) from None
        except InvalidURI as exc:
            raise ConnectError(f"not a WebSocket address: {exc}") from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            raise ConnectError(f"cannot reach Sharkfin at {self.url}: {detail}") from None

    def _attach(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.last_error = None
        self._ever_connected = True
        self._connected.set()
        self._reader = asyncio.create_task(self._read(ws), name="sharkfin-reader")

    async def _read(self, ws: ClientConnection) -> None:
        reason = "the daemon closed the connection"
        try:
            async for raw in ws:
                self._dispatch(raw)
        except ConnectionClosed as exc:
            reason = redact(f"connection lost: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in dispatch must not leave requests hanging
            log.exception("reader failed")
            reason = redact(f"reader failed: {exc!r}")
            await ws.close(1011)
        self._lost(ws, reason)

    def _dispatch(self, raw: str | bytes) -> None:
        frame = decode_frame(raw)
        if frame is None:
            log.warning("skipping a frame that is not a JSON object (%d bytes)", len(raw))
            return
        if frame.ref is not None:
            future = self._pending.get(frame.ref)
            if future is not None and not future.done():
                future.set_result(frame)
            else:
                log.debug("reply for unknown or expired ref %s", frame.ref)
            return
        if frame.type == "error":
            log.warning("daemon reported an error without a ref: %s", frame.data)
            return
        event = parse_event(frame.type, frame.data)
        if event is not None:
            self._events.put(event)

    def _lost(self, ws: ClientConnection, reason: str) -> None:
        if self._ws is not ws:
            return
        self._ws = None
        self._connected.clear()
        self._fail_pending(NotConnected(f"{reason}; the request may not have been carried out, retry"))
        if self._closed:
            return
        log.warning("Sharkfin connection lost: %s", reason)
        self.last_error = NotConnected(reason)
        self._events.put(DisconnectEvent(reason=reason))
        if self._backoff is None:
            self._events.close()
        else:
            self._supervisor = asyncio.create_task(self._reconnect_loop(), name="sharkfin-reconnect")

    async def _reconnect_loop(self) -> None:
        backoff = self._backoff or ExponentialBackoff()
        attempt = 0
        while not self._closed:
            delay = backoff(attempt)
            if delay is None:
                log.error("giving up reconnecting to %s after %d attempts", self.url, attempt)
                self._events.close()
                return
            await asyncio.sleep(delay)
            attempt += 1
            try:
                ws = await self._dial()
            except SharkfinError as exc:
                # The first failure of a streak is news; the retries after it are routine.
                level = (
                    logging.WARNING
                    if attempt == 1 or type(exc) is not type(self.last_error)
                    else logging.DEBUG
                )
                self.last_error = exc
                log.log(level, "connect attempt %d to %s failed: %s", attempt, self.url, exc)
                continue
            if self._closed:
                await ws.close()
                return
            was_connected = self._ever_connected
            recovered = self.last_error is not None
            self._attach(ws)
            log.log(
                logging.INFO if recovered else logging.DEBUG,
                "connected to %s after %d attempt(s)",
                self.url,
                attempt,
            )
            if was_connected:
                self._events.put(ReconnectEvent(attempts=attempt))
            return

    def _fail_pending(self, error: SharkfinError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def _live_connection(self) -> ClientConnection:
        self._check_open()
        if self._ws is not None:
            return self._ws
        reconnecting = self._supervisor is not None and not self._supervisor.done()
        if (
            self._wait_for_connection
            and reconnecting
            and await self.wait_connected(self.request_timeout)
            and self._ws is not None
        ):
            return self._ws
        reason = f" ({self.last_error})" if self.last_error else ""
        hint = "reconnecting, retry shortly" if reconnecting else "not connected"
        raise NotConnected(f"no connection to Sharkfin at {self.url}: {hint}{reason}")

    async def request(self, op: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request and return the reply's ``d`` (``{}`` when the daemon sent none).

        The typed methods below are thin wrappers over this; it is public for operations a newer
        daemon may add.
        """
        ws = await self._live_connection()
        ref = self._refs.next()
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            try:
                # websockets writes each frame whole, so concurrent sends never interleave.
                await ws.send(encode_request(op, ref, data))
            except ConnectionClosed as exc:
                raise NotConnected(f"connection lost while sending {op}: {exc}; retry") from None
            try:
                async with asyncio.timeout(self.request_timeout):
                    frame = await future
            except TimeoutError:
                raise RequestTimeout(
                    f"no reply to {op} within {self.request_timeout:g} s (the daemon drops replies "
                    "when it is overloaded; the request may or may not have been carried out)"
                ) from None
        finally:
            self._pending.pop(ref, None)
            if future.done() and not future.cancelled():
                future.exception()  # a failure we raised another way still counts as retrieved
        return reply_payload(frame)

    # -- operations (one per daemon op; PROTOCOL.md §4.5) ------------------------------------

    async def _ask(self, op: str, data: dict[str, Any] | None, decode: Callable[[dict[str, Any]], T]) -> T:
        """One operation: the request, then its reply decoded (MalformedReply if it will not)."""
        reply = await self.request(op, data)
        return decoded(op, lambda: decode(reply))

    async def ping(self) -> None:
        await self.request("ping")

    async def version(self) -> str:
        return await self._ask("version", None, lambda d: str(d.get("version", "")))

    async def capabilities(self) -> list[str]:
        """The permissions of this identity's role, sorted."""
        return await self._ask("capabilities", None, lambda d: [str(p) for p in d.get("permissions") or []])

    async def set_state(self, state: State) -> None:
        await self.request("set_state", {"state": state})

    async def users(self) -> list[User]:
        return await self._ask("user_list", None, lambda d: items_of(User, d.get("users")))

    async def channels(self) -> list[Channel]:
        """All non-DM channels, private ones you are not in included (``member=False``)."""
        return await self._ask("channel_list", None, lambda d: items_of(Channel, d.get("channels")))

    async def create_channel(self, name: str, public: bool, members: list[str] | None = None) -> None:
        data: dict[str, Any] = {"name": name, "public": public}
        if members:
            data["members"] = list(members)
        await self.request("channel_create", data)

    async def invite_to_channel(self, channel: str, username: str) -> None:
        await self.request("channel_invite", {"channel": channel, "username": username})

    async def join_channel(self, channel: str) -> None:
        await self.request("channel_join", {"channel": channel})

    async def send_message(
        self,
        channel: str,
        body: str,
        *,
        thread_id: int | None = None,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> int:
        """Post a message and return its id. ``metadata`` (a dict or JSON object text) is
        validated before sending and travels as JSON text, as the WebSocket requires."""
        data: dict[str, Any] = {"channel": channel, "body": body}
        if thread_id is not None:
            data["thread_id"] = thread_id
        text = metadata_as_text(metadata)
        if text is not None:
            data["metadata"] = text
        return await self._ask("send_message", data, lambda d: int(d["id"]))

    async def history(
        self,
        channel: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
        thread_id: int | None = None,
    ) -> list[Message]:
        """Messages oldest first: the newest ``limit`` (≤100; the daemon turns more into 50),
        or those before/after an id (``before`` wins if both are given)."""
        data: dict[str, Any] = {"channel": channel}
        for key, value in (("before", before), ("after", after), ("limit", limit), ("thread_id", thread_id)):
            if value is not None:
                data[key] = value
        return await self._ask(
            "history", data, lambda d: items_of(Message, d.get("messages"), channel=channel)
        )

    async def unread_messages(
        self, channel: str | None = None, *, mentions_only: bool = False, thread_id: int | None = None
    ) -> list[Message]:
        """Unread messages from others. Without filters this *consumes* them (the read cursor
        moves past them); the daemon sends them without ids."""
        data: dict[str, Any] = {}
        if channel:
            data["channel"] = channel
        if mentions_only:
            data["mentions_only"] = True
        if thread_id is not None:
            data["thread_id"] = thread_id
        return await self._ask("unread_messages", data, lambda d: items_of(Message, d.get("messages")))

    async def unread_counts(self) -> list[UnreadCount]:
        return await self._ask("unread_counts", None, lambda d: items_of(UnreadCount, d.get("counts")))

    async def mark_read(self, channel: str, message_id: int | None = None) -> None:
        """Move the read cursor forward to ``message_id`` (default: the newest message)."""
        data: dict[str, Any] = {"channel": channel}
        if message_id is not None and message_id > 0:
            data["message_id"] = message_id
        await self.request("mark_read", data)

    async def dm_open(self, username: str) -> DMOpened:
        return await self._ask("dm_open", {"username": username}, DMOpened.model_validate)

    async def dm_list(self) -> list[DM]:
        return await self._ask("dm_list", None, lambda d: items_of(DM, d.get("dms")))

    async def set_setting(self, key: str, value: str) -> None:
        await self.request("set_setting", {"key": key, "value": value})

    async def get_settings(self) -> dict[str, str]:
        return await self._ask(
            "get_settings", None, lambda d: {str(k): str(v) for k, v in (d.get("settings") or {}).items()}
        )

    async def create_mention_group(self, slug: str) -> int:
        return await self._ask("mention_group_create", {"slug": slug}, lambda d: int(d["id"]))

    async def delete_mention_group(self, slug: str) -> None:
        await self.request("mention_group_delete", {"slug": slug})

    async def get_mention_group(self, slug: str) -> MentionGroup:
        return await self._ask("mention_group_get", {"slug": slug}, MentionGroup.model_validate)

    async def list_mention_groups(self) -> list[MentionGroup]:
        return await self._ask("mention_group_list", None, lambda d: items_of(MentionGroup, d.get("groups")))

    async def add_mention_group_member(self, slug: str, username: str) -> None:
        await self.request("mention_group_add_member", {"slug": slug, "username": username})

    async def remove_mention_group_member(self, slug: str, username: str) -> None:
        await self.request("mention_group_remove_member", {"slug": slug, "username": username})

    # -- REST operations ----------------------------------------------------------------------

    async def register(self) -> RegisteredIdentity:
        return await self.rest.register()

    async def register_webhook(self, url: str) -> str:
        return await self.rest.register_webhook(url)

    async def unregister_webhook(self, webhook_id: str) -> None:
        await self.rest.unregister_webhook(webhook_id)

    async def list_webhooks(self) -> list[Webhook]:
        return await self.rest.list_webhooks()

    # -- role administration: the daemon serves these on /mcp only (see AdminClient) -----------

    async def set_role(self, username: str, role: str) -> None:
        await self.rest.set_role(username, role)

    async def create_role(self, name: str) -> None:
        await self.rest.create_role(name)

    async def delete_role(self, name: str) -> None:
        await self.rest.delete_role(name)

    async def grant_permission(self, role: str, permission: str) -> None:
        await self.rest.grant_permission(role, permission)

    async def revoke_permission(self, role: str, permission: str) -> None:
        await self.rest.revoke_permission(role, permission)

    async def list_roles(self) -> list[Role]:
        return await self.rest.list_roles()
