"""The ``/ws`` request/reply protocol, the push hub, ``/presence`` and the event bus.

PROTOCOL.md §4 (envelopes, op table, check order, pushes), §5.8 (presence), §7 (webhooks),
§8 (``/presence``), §9 (``/notifications/subscribe``). Each socket gets one bounded
outbound queue (256 frames, overflow silently dropped, like the daemon) drained by a
single writer task, so frames never interleave and a sender's reply is queued before
its own ``message.new``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.websockets import WebSocket

from ._json import MISSING, DecodeError, ci_get, decode, dumps
from ._state import Message, SendResult, State, StoreError

QUEUE_SIZE = 256
BUS_SIZE = 64

# op → (permission or None, decode spec or None, strict decode?, allowed in notifications-only mode)
_OPS: dict[str, tuple[str | None, dict[str, str] | None, bool, bool]] = {
    "ping": (None, None, False, True),
    "version": (None, None, False, True),
    "capabilities": (None, None, False, True),
    "set_state": (None, {"state": "str"}, False, True),
    "user_list": ("user_list", None, False, False),
    "channel_list": ("channel_list", None, False, False),
    "channel_create": (
        "create_channel",
        {"name": "str", "public": "bool", "members": "strlist"},
        True,
        False,
    ),
    "channel_invite": ("invite_channel", {"channel": "str", "username": "str"}, True, False),
    "channel_join": ("join_channel", {"channel": "str"}, True, False),
    "send_message": (
        "send_message",
        {"channel": "str", "body": "str", "thread_id": "optint", "metadata": "optstr"},
        True,
        False,
    ),
    "history": (
        "history",
        {"channel": "str", "before": "int", "after": "int", "limit": "int", "thread_id": "int"},
        True,
        False,
    ),
    "unread_messages": (
        "unread_messages",
        {"channel": "str", "mentions_only": "bool", "thread_id": "int"},
        False,
        False,
    ),
    "unread_counts": ("unread_counts", None, False, True),
    "dm_list": ("dm_list", None, False, False),
    "dm_open": ("dm_open", {"username": "str"}, True, False),
    "mark_read": ("mark_read", {"channel": "str", "message_id": "optint"}, True, False),
    "set_setting": ("manage_roles", {"key": "str", "value": "str"}, True, False),
    "get_settings": ("manage_roles", None, False, False),
    "mention_group_create": (None, {"slug": "str"}, True, False),
    "mention_group_delete": (None, {"slug": "str"}, True, False),
    "mention_group_get": (None, {"slug": "str"}, True, False),
    "mention_group_list": (None, None, False, False),
    "mention_group_add_member": (None, {"slug": "str", "username": "str"}, True, False),
    "mention_group_remove_member": (None, {"slug": "str", "username": "str"}, True, False),
}
OP_NAMES: tuple[str, ...] = tuple(_OPS)
Post = list[Callable[[], None]]


class Conn:
    """One accepted WebSocket with its bounded outbound queue and a kill switch."""

    def __init__(self, hub: Hub, ws: WebSocket, username: str, *, notifications_only: bool = False) -> None:
        self.hub = hub
        self.ws = ws
        self.username = username
        self.notifications_only = notifications_only
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()
        send, receive = anyio.create_memory_object_stream[str](QUEUE_SIZE)
        self._send: MemoryObjectSendStream[str] = send
        self._receive: MemoryObjectReceiveStream[str] = receive

    def push(self, frame: str) -> None:
        """Queue a frame; silently dropped when stalled or when the queue is full."""
        if self.hub.stall:
            return
        with contextlib.suppress(anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._send.send_nowait(frame)

    async def write_loop(self) -> None:
        try:
            async for frame in self._receive:
                await self.ws.send_text(frame)
        except Exception:
            self.scope.cancel()  # peer gone: end the whole connection

    def kill(self) -> None:
        self.scope.cancel()

    def close_queue(self) -> None:
        self._send.close()
        self._receive.close()

    async def run(self, on_text: Callable[[str], None] | None) -> None:
        """Read until the peer goes away (or :meth:`kill`); frames go to ``on_text``."""
        with self.scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.write_loop)
                try:
                    while True:
                        message = await self.ws.receive()
                        if message["type"] == "websocket.disconnect":
                            break
                        if on_text is None:
                            continue
                        text = message.get("text")
                        if text is None:
                            try:
                                text = (message.get("bytes") or b"").decode()
                            except UnicodeDecodeError:
                                text = "\x00"  # not JSON → `invalid JSON`
                        on_text(text)
                finally:
                    tg.cancel_scope.cancel()
        self.close_queue()
        if self.scope.cancel_called:
            with anyio.CancelScope(shield=True), anyio.move_on_after(0.5), contextlib.suppress(Exception):
                await self.ws.close(1011)


def envelope(type_: str, ref: str = "", d: Any = None, ok: bool | None = None) -> str:
    env: dict[str, Any] = {"type": type_}
    if d is not None:
        env["d"] = d
    if ref:
        env["ref"] = ref
    if ok is not None:
        env["ok"] = ok
    return dumps(env)


def error_frame(message: str, ref: str = "") -> str:
    return envelope("error", ref, {"message": message}, False)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


@dataclass
class Hub:
    """Everything that spans connections: hub targets, states, /presence, the bus."""

    state: State
    version: str = "v0.0.0-sandbox"
    stall: bool = False
    drop_replies: int = 0
    drop_replies_to: dict[str, int] = field(default_factory=dict)
    """Per request type, how many of its next replies to drop (after the op ran)."""
    targets: dict[str, Conn] = field(default_factory=dict)  # one push target per username
    states: dict[str, str] = field(default_factory=dict)
    presence: dict[str, Conn] = field(default_factory=dict)  # last /presence wins
    subscribers: set[Conn] = field(default_factory=set)  # /notifications/subscribe
    all_conns: set[Conn] = field(default_factory=set)
    deliveries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    outbox: MemoryObjectSendStream[tuple[str, dict[str, Any]]] | None = None

    # ---- /ws lifecycle (§4.1) ----------------------------------------------------------

    def broadcast_presence(self, username: str, d: dict[str, Any]) -> None:
        frame = envelope("presence", d=d)
        for name, conn in list(self.targets.items()):
            if name != username:
                conn.push(frame)

    def ws_connected(self, conn: Conn) -> None:
        self.targets[conn.username] = conn
        self.states[conn.username] = "idle"
        d = {"state": "idle", "status": "online", "username": conn.username}
        self.broadcast_presence(conn.username, d)

    def ws_disconnected(self, conn: Conn) -> None:
        if self.targets.get(conn.username) is conn:
            del self.targets[conn.username]
        self.states.pop(conn.username, None)
        self.broadcast_presence(conn.username, {"status": "offline", "username": conn.username})

    def push_capabilities(self, role: str) -> None:
        permissions = self.state.permissions_of_role(role) or None
        frame = envelope("capabilities", d={"permissions": permissions})
        for name, conn in list(self.targets.items()):
            row = self.state.identities.get(name)
            if row is not None and row.role == role:
                conn.push(frame)

    # ---- request handling (§4.3-§4.5) --------------------------------------------------

    def handle(self, conn: Conn, text: str) -> None:
        """Execute one request frame and queue its reply (then any pushes it causes)."""
        if self.stall:
            return
        post: Post = []
        frame = self._respond(conn, text, post)
        op = _request_type(text) if self.drop_replies_to else None
        if self.drop_replies > 0:
            self.drop_replies -= 1
        elif op is not None and self.drop_replies_to.get(op, 0) > 0:
            self.drop_replies_to[op] -= 1
            if self.drop_replies_to[op] == 0:
                del self.drop_replies_to[op]  # nothing armed: later frames are not parsed twice
        else:
            conn.push(frame)
        for action in post:
            action()

    def _respond(self, conn: Conn, text: str, post: Post) -> str:
        try:
            obj = json.loads(text, parse_constant=_reject_constant)
        except ValueError:
            return error_frame("invalid JSON")
        if obj is None:  # Go: unmarshalling `null` into a struct is a no-op
            obj = {}
        if not isinstance(obj, dict):
            return error_frame("invalid JSON")
        type_, ref, d = ci_get(obj, "type"), ci_get(obj, "ref"), ci_get(obj, "d")
        type_ = "" if type_ is MISSING or type_ is None else type_
        ref = "" if ref is MISSING or ref is None else ref
        if not isinstance(type_, str) or not isinstance(ref, str):
            return error_frame("invalid JSON")
        op = _OPS.get(type_)
        if op is None:
            return error_frame(f"unknown type: {type_}", ref)
        permission, spec, strict, notif_ok = op
        if conn.notifications_only and not notif_ok:
            return error_frame("notification-only connection", ref)
        if permission is not None and not self.state.has_permission(conn.username, permission):
            return error_frame(f"permission denied: {permission}", ref)
        try:
            args = decode(d, spec, strict=strict) if spec is not None else {}
        except DecodeError:
            return error_frame("invalid arguments", ref)
        try:
            result = getattr(self, "op_" + type_)(conn, args, post)
        except StoreError as exc:
            return error_frame(str(exc), ref)
        if type_ == "ping":
            return envelope("pong", ref, None, True)
        return envelope("reply", ref, result, True)

    # ---- ops ---------------------------------------------------------------------------

    def op_ping(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        return None

    def op_version(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        return {"version": self.version}

    def op_capabilities(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        return {"permissions": self.state.permissions(conn.username) or None}

    def op_set_state(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        if a["state"] not in ("active", "idle"):
            raise StoreError("state must be 'active' or 'idle'")
        self.states[conn.username] = a["state"]
        d = {"state": a["state"], "status": "online", "username": conn.username}
        post.append(lambda: self.broadcast_presence(conn.username, d))
        return None

    def op_user_list(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        users = []
        for name in sorted(self.state.identities):
            row = self.state.identities[name]
            online = name in self.presence
            user: dict[str, Any] = {"username": name, "online": online, "type": row.type}
            if online and name in self.states:
                user["state"] = self.states[name]
            users.append(user)
        return {"users": users or None}

    def op_channel_list(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        channels = [
            {"name": c.name, "public": c.public, "member": conn.username in c.members}
            for c in self.state.list_channels(conn.username)
        ]
        return {"channels": channels or None}

    def op_channel_create(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        channel = self.state.create_channel(
            a["name"], public=a["public"], creator=conn.username, members=a["members"] or ()
        )
        return {"name": channel.name}

    def op_channel_invite(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        self.state.invite(conn.username, a["channel"], a["username"])

    def op_channel_join(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        self.state.join(conn.username, a["channel"])

    def op_send_message(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        result = self.state.send(
            conn.username, a["channel"], a["body"], thread_id=a["thread_id"], metadata=a["metadata"]
        )
        sent_at = self.state.now()
        post.append(lambda: self.push_message(result, sent_at))
        post.append(lambda: self.publish(result, sent_at))
        return {"id": result.message.id}

    def op_history(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        rows = self.state.history(
            conn.username,
            a["channel"],
            before=a["before"],
            after=a["after"],
            limit=a["limit"],
            thread_id=a["thread_id"],
        )
        return {"channel": a["channel"], "messages": [self._history_item(m) for m in rows] or None}

    @staticmethod
    def _history_item(m: Message) -> dict[str, Any]:
        item: dict[str, Any] = {"id": m.id, "from": m.sender, "body": m.body, "sent_at": m.created_at}
        if m.thread_id is not None:
            item["thread_id"] = m.thread_id
        if m.mentions:
            item["mentions"] = sorted(m.mentions)
        if m.metadata:
            item["metadata"] = m.metadata
        return item

    def op_unread_messages(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        rows = self.state.unread(
            conn.username, a["channel"], mentions_only=a["mentions_only"], thread_id=a["thread_id"]
        )
        items = []
        for channel, m in rows:
            item = self._history_item(m)
            del item["id"]
            items.append({"channel": channel.name, **item})
        return {"messages": items or None}

    def op_unread_counts(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        counts = [
            {"channel": c.name, "type": c.type, "unread_count": n, "mention_count": k}
            for c, n, k in self.state.unread_counts(conn.username)
        ]
        return {"counts": counts or None}

    def op_dm_list(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        dms = [{"channel": c, "participant": p} for c, p in self.state.dm_list(conn.username)]
        return {"dms": dms or None}

    def op_dm_open(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        channel, created = self.state.dm_open(conn.username, a["username"])
        return {"channel": channel.name, "created": created, "participant": a["username"]}

    def op_mark_read(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        self.state.mark_read(conn.username, a["channel"], a["message_id"])

    def op_set_setting(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        self.state.settings[a["key"]] = a["value"]

    def op_get_settings(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        return {"settings": dict(sorted(self.state.settings.items()))}

    @staticmethod
    def group_object(group: Any) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": group.id, "slug": group.slug, "created_by": group.created_by}
        if group.members:
            obj["members"] = sorted(group.members)
        obj["created_at"] = group.created_at
        return obj

    def op_mention_group_create(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        group = self.state.group_create(conn.username, a["slug"])
        return {"id": group.id, "slug": group.slug}

    def op_mention_group_delete(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        self.state.group_delete(conn.username, a["slug"])

    def op_mention_group_get(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        return self.group_object(self.state.group_get(a["slug"]))

    def op_mention_group_list(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        return {"groups": [self.group_object(g) for g in self.state.group_list()] or None}

    def op_mention_group_add_member(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        self.state.group_member(conn.username, a["slug"], a["username"], add=True)

    def op_mention_group_remove_member(self, conn: Conn, a: dict[str, Any], post: Post) -> Any:
        self.state.group_member(conn.username, a["slug"], a["username"], add=False)

    # ---- pushes and the bus (§4.6, §7, §8, §9) -----------------------------------------

    def push_message(self, result: SendResult, sent_at: str) -> None:
        frame = envelope("message.new", d=self.state.message_event(result, sent_at))
        for member in result.channel.members:
            conn = self.targets.get(member)
            if conn is not None:
                conn.push(frame)

    def publish(self, result: SendResult, sent_at: str) -> None:
        """The internal bus: /presence and /notifications pushes, webhooks (WS and REST sends)."""
        m, channel, state = result.message, result.channel, self.state
        recipients = state.recipients(result)
        note = dumps(
            {
                "d": {
                    "channel": channel.name,
                    "channel_type": channel.type,
                    "from": m.sender,
                    "message_id": m.id,
                },
                "type": "message.new",
            }
        )
        for name in recipients:
            conn = self.presence.get(name)
            if conn is not None:
                conn.push(note)
        for sub in list(self.subscribers):
            self._notify_subscriber(sub, result)
        sender = state.identities.get(m.sender)
        payload: dict[str, Any] = {
            "event": "message.new",
            "channel_id": channel.id,
            "channel_name": channel.name,
            "channel_type": channel.type,
            "from": m.sender,
            "from_type": (sender.type if sender else "") or "user",
            "message_id": m.id,
            "body": m.body,
            "metadata": m.metadata,
            "sent_at": sent_at,
        }
        for hook in list(state.webhooks.values()):
            owner = state.identities.get(hook.owner)
            if hook.active and owner and owner.type == "service" and hook.owner in channel.members:
                self._deliver(hook.url, payload)
        legacy_url = state.settings.get("webhook_url", "")
        if legacy_url:
            for name in recipients:
                self._deliver(
                    legacy_url,
                    {
                        "event": "message.new",
                        "channel_id": 0,
                        "channel_name": "",
                        "channel_type": channel.type,
                        "from": m.sender,
                        "from_type": "",
                        "message_id": m.id,
                        "body": "",
                        "metadata": None,
                        "sent_at": sent_at,
                        "recipient": name,
                        "channel": channel.name,
                    },
                )

    def _notify_subscriber(self, sub: Conn, result: SendResult) -> None:
        m, channel = result.message, result.channel
        if m.sender == sub.username:
            return
        body = m.body[:100]
        note: dict[str, Any]
        if sub.username in result.bus_mentions:
            title = f"Mention in #{channel.name}"
            note = {"title": title, "body": body, "urgency": "active", "route": "/chat"}
        elif channel.type == "dm" and sub.username in channel.members:
            title = f"DM from {m.sender}"
            note = {"title": title, "body": body, "urgency": "active", "route": "/chat"}
        elif sub.username in channel.members:
            note = {"title": f"New message in #{channel.name}", "urgency": "passive", "route": "/chat"}
        else:
            return
        if not note.get("body", True):
            del note["body"]
        sub.push(dumps(note))

    def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        self.deliveries.append((url, payload))
        if self.outbox is not None and not self.stall:
            # the daemon's bus also drops when a subscriber falls behind
            with contextlib.suppress(anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
                self.outbox.send_nowait((url, payload))


def _request_type(text: str) -> str | None:
    """The ``type`` of a request frame, for the per-type reply-drop fault (``None`` if unreadable)."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    kind = ci_get(obj, "type") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None
