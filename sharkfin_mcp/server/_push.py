"""Push into Claude Code: new DMs and mentions as ``notifications/claude/channel`` (issue 12.3).

Opt-in (``SHARKFIN_CHANNEL=on`` / ``--channel``). The server then declares the experimental
``claude/channel`` capability, and Claude Code (≥ 2.1.80, launched with
``--dangerously-load-development-channels server:<name>``) shows each notification to the model
as a ``<channel source="…" …>`` block: ``content`` is the message body, ``meta`` its attributes.

Where messages come from: a task that reads the event buffer with a cursor of its own, the way a
tool reader does (``EventBuffer.wait``). It needs no hook in the inbox, it cannot lose a message a
hook could miss while a push is slow, and it consumes nothing: ``unread_messages`` and the event
tools still show every message it pushed.

What is pushed: DMs (PROTOCOL.md §5.2) and messages that mention this identity, directly or
through a mention group (history's ``mentions`` are expanded usernames), plus every message of
the channels in ``SHARKFIN_CHANNEL_CHANNELS``. Never this identity's own messages. A mention is
what the daemon stores as one (§5.7), so REST posts, which store none, count only as DMs or from
a configured channel: the same rule as ``mention_count`` and ``mentions_only``.

Bursts: at most ``channel_burst`` notifications in any ``channel_burst_seconds``. Messages beyond
that are held and sent as one summary (how many, where, and ``unread_messages`` to read them)
as soon as the window has room, so a noisy channel costs a session at most N notifications per
M seconds.

Who receives: every handshake-era session once it has sent ``notifications/initialized`` (stdio:
the one client; HTTP: each ``Mcp-Session-Id``), and a 2026-07-28 client on a duplex transport
(stdio) once it has called ``server/discover``: its pipe carries notifications. A 2026-07-28
client over HTTP has no channel the server may write on outside a request: its ``server/discover``
result does not declare the capability, and it is sent nothing.
Clients that do not know the method ignore it (MCP: unknown notifications are ignored).

Permission relay (``SHARKFIN_CHANNEL_PERMISSION`` with ``SHARKFIN_CHANNEL_APPROVERS``): Claude Code
sends ``notifications/claude/channel/permission_request``; each approver gets a DM naming the
tool and the reply form ``approve <id>`` / ``deny <id>``. A verdict is sent back only for a
message that (1) was sent by an approver (the daemon authenticates senders by key), (2) in a DM
between that approver and this identity, (3) whose whole body is the reply form, (4) for a
request id that is pending and not expired. Anything else is logged and ignored, so no text in
any message can approve anything by itself.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import anyio
from mcp.server import MCPServer, ServerRequestContext
from mcp.types import DiscoverResult
from pydantic import BaseModel

from ..client import SharkfinError
from ._buffer import BufferedEvent
from ._compat import lowlevel_server, session_connection
from ._config import Settings
from ._safety import RateLimiter
from ._sessions import ConnectionTable

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = [
    "CHANNEL_METHOD",
    "PERMISSION_METHOD",
    "PERMISSION_REQUEST_METHOD",
    "BurstGate",
    "ChannelNotification",
    "ChannelParams",
    "ChannelPush",
    "PermissionParams",
    "PermissionRequestParams",
    "channel_capabilities",
    "install",
    "parse_verdict",
    "verdict_reply",
]

log = logging.getLogger("sharkfin_mcp.server.push")
T = TypeVar("T")

CHANNEL_METHOD = "notifications/claude/channel"
PERMISSION_REQUEST_METHOD = "notifications/claude/channel/permission_request"
PERMISSION_METHOD = "notifications/claude/channel/permission"
PERMISSION_TTL = 600.0
"""Seconds a relayed permission request stays answerable."""
PREVIEW_LIMIT = 600
"""Characters of ``input_preview`` relayed to approvers."""
READ_BATCH = 256
IDLE_WAIT = 3600.0
VERDICT = re.compile(r"((?i:approve|deny)) (\S+)")
"""The whole body of a permission reply, after trimming surrounding whitespace."""


# -- wire models: our own, because mcp.types.Notification drops unknown params keys (MCP-SDK.md §2.5)


class ChannelParams(BaseModel):
    content: str
    meta: dict[str, str]


class ChannelNotification(BaseModel):
    method: Literal["notifications/claude/channel"] = "notifications/claude/channel"
    params: ChannelParams


class PermissionParams(BaseModel):
    request_id: str
    behavior: Literal["allow", "deny"]


class PermissionNotification(BaseModel):
    method: Literal["notifications/claude/channel/permission"] = "notifications/claude/channel/permission"
    params: PermissionParams


class PermissionRequestParams(BaseModel):
    """What Claude Code sends when a tool needs approval; unknown keys are ignored. (Not an
    ``mcp.types`` model: those expect camelCase names, and these keys are snake_case.)"""

    request_id: str
    tool_name: str = ""
    description: str = ""
    input_preview: str = ""


def channel_capabilities(settings: Settings) -> dict[str, dict[str, Any]]:
    """The ``experimental`` capabilities to declare: none when push is off."""
    if not settings.channel_push:
        return {}
    found: dict[str, dict[str, Any]] = {"claude/channel": {}}
    if settings.channel_permission:
        found["claude/channel/permission"] = {}
    return found


def verdict_reply(request_id: str, allow: bool) -> str:
    """The exact body an approver sends to answer ``request_id``."""
    return f"{'approve' if allow else 'deny'} {request_id}"


def parse_verdict(body: str) -> tuple[Literal["allow", "deny"], str] | None:
    """``("allow"|"deny", request_id)`` when the whole body, trimmed, is ``approve <id>`` or
    ``deny <id>`` (verb in any case, one space, the id); otherwise ``None``."""
    match = VERDICT.fullmatch(body.strip())
    if match is None:
        return None
    return ("allow" if match.group(1).lower() == "approve" else "deny"), match.group(2)


def _names(raw: str, strip: str) -> frozenset[str]:
    return frozenset(n.strip().lstrip(strip) for n in raw.split(",") if n.strip().lstrip(strip))


class BurstGate(Generic[T]):
    """At most ``limit`` notifications in any ``window`` seconds; the rest held for one summary.

    Pure bookkeeping on a clock the caller passes (monotonic seconds), so it can be tested on its
    own. ``offer`` says whether an item goes out now, else holds it; ``release`` hands over
    everything held once the window has room (that summary counts as one notification); ``due``
    says how long until then.
    """

    def __init__(self, limit: int, window: float) -> None:
        self._rate = RateLimiter(limit, window)
        """When each recent notification (or summary) went out."""
        self._held: list[T] = []

    def offer(self, item: T, now: float) -> bool:
        """True: send ``item`` now. False: it is held (behind earlier held items, in order)."""
        if self._held or self._rate.try_acquire(now):
            self._held.append(item)
            return False
        return True

    def release(self, now: float) -> list[T]:
        """The held items, if a summary may go out now (it is then counted as sent); else []."""
        if not self._held or self._rate.try_acquire(now):
            return []
        held, self._held = self._held, []
        return held

    def due(self, now: float) -> float | None:
        """Seconds until ``release`` can return something; ``None`` when nothing is held."""
        return self._rate.wait(now) if self._held else None


@dataclass
class _Pending:
    session: Any
    tool_name: str
    expires: float


class ChannelPush:
    """Pushes buffered messages to the sessions that opened, and relays permission prompts.

    Build one per server (``build_server``), ``install`` it on the SDK, and run it inside the
    lifespan with :meth:`running`.
    """

    def __init__(self, settings: Settings) -> None:
        self.watched = _names(settings.channel_channels, "#")
        approvers = settings.channel_approvers if settings.channel_permission else ""
        self.approvers = _names(approvers, "@")
        self.sessions: ConnectionTable[Any] = ConnectionTable()
        self._runtime: Runtime | None = None
        self.gate: BurstGate[BufferedEvent] = BurstGate(
            settings.channel_burst, settings.channel_burst_seconds
        )
        self._pending: dict[str, _Pending] = {}
        self._approver_dms: dict[str, str] = {}
        """DM channel → approver, learned when a request was relayed to them."""

    # -- sessions --------------------------------------------------------------------------------

    def opened(self, session: Any) -> None:
        """A client finished its handshake (or, 2026-07-28 on stdio, discovered the server)."""
        self.sessions.set(session, session)

    async def _notify(self, notification: BaseModel, sessions: list[Any] | None = None) -> None:
        for session in self.sessions.values() if sessions is None else sessions:
            try:  # stored sessions send on their connection's standalone channel, best effort
                await session.send_notification(notification)
            except Exception as exc:  # a closed connection must not stop the others
                log.debug("could not push to a session: %s", exc)

    # -- the pump ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, runtime: Runtime) -> AsyncIterator[None]:
        self._runtime = runtime
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._pump, runtime, runtime.buffer.last_seq)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                self._runtime = None

    async def _pump(self, runtime: Runtime, cursor: int) -> None:
        # Own messages cannot be told apart before the identity is known.
        me = (await runtime.identified()).username
        self.approvers -= {me}
        while True:
            due = self.gate.due(anyio.current_time())
            wait = IDLE_WAIT if due is None else due
            result = await runtime.buffer.wait(cursor, READ_BATCH, _is_message, wait)
            if result.dropped:
                log.info("%d event(s) left the buffer before they could be pushed", result.dropped)
            cursor = result.cursor
            for event in result.events:
                try:
                    await self._offer(event, me)
                except Exception:  # one bad message must not stop pushing
                    log.exception("could not push message %s", event.data.get("id"))
            held = self.gate.release(anyio.current_time())
            if held:
                await self._notify(ChannelNotification(params=self._summary(held)))

    def why(self, event: BufferedEvent, me: str) -> str | None:
        """Why ``event`` is pushed (``dm``, ``mention``, ``channel``), or ``None``."""
        data = event.data
        if event.from_self or data.get("from") == me:
            return None
        channel = str(event.channel or "")
        if self._is_dm(channel):
            return "dm"
        if event.mentions_me or me in (data.get("mentions") or ()):
            return "mention"
        if channel in self.watched:
            return "channel"
        return None

    def _is_dm(self, channel: str) -> bool:
        runtime = self._runtime
        return (runtime is not None and channel in runtime.inbox.dms) or channel.startswith("dm-")

    async def _offer(self, event: BufferedEvent, me: str) -> None:
        if event.from_self or event.data.get("from") == me:
            return
        if self.approvers and await self._verdict(event):
            return
        if self.why(event, me) is None:
            return
        if self.gate.offer(event, anyio.current_time()):
            await self._notify(ChannelNotification(params=message_params(event)))

    def _summary(self, held: list[BufferedEvent]) -> ChannelParams:
        per: collections.Counter[str] = collections.Counter(str(e.channel) for e in held)
        runtime = self._runtime
        dms = runtime.inbox.dms if runtime is not None else {}

        def place(channel: str) -> str:
            return f"DM with {dms[channel]}" if channel in dms else f"#{channel}"

        where = ", ".join(f"{place(c)}: {n}" for c, n in per.items())
        content = (
            f"{len(held)} more Sharkfin messages arrived ({where}), too many to show one by one. "
            "Read them with unread_messages (unread_messages(channel=...) for one channel); "
            "nothing was marked read."
        )
        meta = {"kind": "burst", "count": str(len(held)), "channels": ",".join(per)}
        return ChannelParams(content=content, meta=meta)

    # -- permission relay --------------------------------------------------------------------------

    async def permission_requested(self, session: Any, params: PermissionRequestParams) -> None:
        """Relay a permission prompt to every approver by DM (see module docstring)."""
        runtime = self._runtime
        if runtime is None or not self.approvers:
            log.info("permission request %s not relayed: no approvers", params.request_id)
            return
        self._expire()
        expires = anyio.current_time() + PERMISSION_TTL
        self._pending[params.request_id] = _Pending(session, params.tool_name, expires)
        preview = params.input_preview[:PREVIEW_LIMIT]
        text = (
            f"Permission request {params.request_id}: the agent wants to run {params.tool_name}.\n"
            f"Description: {params.description}\n"
            f"Input: {preview}\n"
            f"Reply in this DM with exactly '{verdict_reply(params.request_id, True)}' or "
            f"'{verdict_reply(params.request_id, False)}' (valid for {PERMISSION_TTL / 60:.0f} minutes)."
        )
        for approver in sorted(self.approvers):
            try:
                opened = await runtime.client.dm_open(approver)
                self._approver_dms[opened.channel] = approver
                await runtime.client.send_message(opened.channel, text)
            except SharkfinError as exc:
                log.warning("could not relay permission request to %s: %s", approver, exc)

    async def _verdict(self, event: BufferedEvent) -> bool:
        """Answer a pending request if ``event`` is a valid reply; True when it was one."""
        parsed = parse_verdict(str(event.data.get("body", "")))
        if parsed is None:
            return False
        behavior, request_id = parsed
        sender = str(event.data.get("from"))
        channel = str(event.channel or "")
        if sender not in self.approvers:
            log.info("ignored a permission reply for %s from %s: not an approver", request_id, sender)
            return False
        runtime = self._runtime
        partner = self._approver_dms.get(channel) or (runtime.inbox.dms.get(channel) if runtime else None)
        if partner != sender:
            log.info("ignored a reply for %s from %s in #%s: not their DM", request_id, sender, channel)
            return False
        self._expire()
        pending = self._pending.pop(request_id, None)
        if pending is None:
            log.info("ignored a permission reply from %s: no pending request %s", sender, request_id)
            return False
        log.info("%s %s request %s (%s)", sender, behavior, request_id, pending.tool_name)
        verdict = PermissionNotification(params=PermissionParams(request_id=request_id, behavior=behavior))
        await self._notify(verdict, [pending.session])
        return True

    def _expire(self) -> None:
        now = anyio.current_time()
        for request_id in [r for r, p in self._pending.items() if p.expires <= now]:
            del self._pending[request_id]
            log.info("permission request %s expired unanswered", request_id)


def _is_message(event: BufferedEvent) -> bool:
    return event.type == "message.new"


def message_params(event: BufferedEvent) -> ChannelParams:
    """``content`` = the body; ``meta`` = channel, message_id, from, sent_at, thread_id (strings)."""
    data = event.data
    meta = {
        "channel": str(event.channel or ""),
        "message_id": str(data.get("id")),
        "from": str(data.get("from")),
        "sent_at": str(data.get("sent_at") or event.received_at.strftime("%Y-%m-%dT%H:%M:%SZ")),
    }
    if data.get("thread_id"):
        meta["thread_id"] = str(data["thread_id"])
    return ChannelParams(content=str(data.get("body", "")), meta=meta)


def install(mcp: MCPServer[Any], push: ChannelPush, settings: Settings) -> None:
    """Wire push into the SDK. mcp 2.3 has no public API for any of this, so it wraps public
    methods of the instance; the private attributes it reaches (the low-level server, a session's
    connection) go through ``_compat`` like every other. tests/server/test_push.py covers each:

    * ``experimental`` capabilities: ``MCPServer`` passes none, so the low-level server's
      ``get_capabilities`` is wrapped on the instance. Both ``initialize`` (stdio, HTTP, in
      memory: ``create_initialization_options`` calls it) and ``server/discover`` read it.
    * ``server/discover`` is wrapped to remember a 2026-07-28 client whose connection has a
      standalone channel (a duplex pipe such as stdio): the only way to reach it outside a
      request. A client without one is not offered the capability.
    * ``notifications/claude/channel/permission_request`` gets a low-level notification handler.
    """
    low = lowlevel_server(mcp)
    ours = channel_capabilities(settings)
    get_capabilities: Callable[..., Any] = low.get_capabilities

    def with_channel(
        notification_options: Any = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> Any:
        merged = {**ours, **(experimental_capabilities or {})}
        return get_capabilities(notification_options, merged, extensions, **kwargs)

    low.get_capabilities = with_channel  # type: ignore[method-assign]

    discover = low.get_request_handler("server/discover")
    if discover is not None:
        original = discover.handler

        async def discovered(ctx: ServerRequestContext[Any], params: Any) -> Any:
            result = await original(ctx, params)
            connection = session_connection(ctx.session)
            if connection is not None and connection.has_standalone_channel:
                push.opened(ctx.session)
                return result
            if not isinstance(result, DiscoverResult):  # another handler's shape: leave it alone
                return result
            # No pipe (2026-07-28 over HTTP, or in memory): nothing could be pushed, so do not
            # claim the capability either.
            kept = {k: v for k, v in (result.capabilities.experimental or {}).items() if k not in ours}
            capabilities = result.capabilities.model_copy(update={"experimental": kept or None})
            return result.model_copy(update={"capabilities": capabilities})

        low.add_request_handler("server/discover", discover.params_type, discovered)

    if push.approvers:

        async def requested(ctx: ServerRequestContext[Any], params: PermissionRequestParams) -> None:
            await push.permission_requested(ctx.session, params)

        low.add_notification_handler(PERMISSION_REQUEST_METHOD, PermissionRequestParams, requested)
