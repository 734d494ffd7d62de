"""The daemon's 30 MCP tools (PROTOCOL.md §10.2): schemas, permissions, handlers and exact texts.

Mirrors ``pkg/daemon/mcp_server.go`` / ``mcp_tools.go`` of the real daemon (mcp-go v0.44.1):

* every call upserts the caller, then checks the tool's permission (``permission denied: <p>``
  as a tool error, §3);
* arguments are read the way mcp-go's getters read them (:func:`_string`, :func:`_bool`,
  :func:`_int`, :func:`_opt_int`): a wrongly typed argument silently becomes the default;
* a handler answers with text (:class:`Text`), a tool error (``isError``, :class:`ToolError`) or
  raises :class:`InternalError`, which the transport turns into JSON-RPC ``-32603`` — the
  daemon's "unexpected store failure" path, e.g. a duplicate channel name;
* list results are Go ``json.Marshal`` output of a nil-able slice: ``null`` when empty (except
  ``list_webhooks``, which the daemon builds with ``make`` and so answers ``[]``).

Pushes are the daemon's: ``send_message`` pushes ``message.new`` to ``/ws`` members and
publishes on the internal bus, ``set_state`` pushes ``presence``, and ``set_role`` /
``grant_permission`` / ``revoke_permission`` push ``capabilities`` to the role's holders (§4.6).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._json import dumps
from ._state import (
    ALL_PERMISSIONS,
    BUILTIN_ROLES,
    NOT_PARTICIPANT,
    UNIQUE_CHANNEL,
    UNIQUE_MEMBER,
    Message,
    StoreError,
)
from ._ws import Hub

FK_FAILED = "constraint failed: FOREIGN KEY constraint failed (787)"
UNIQUE_ROLE = "constraint failed: UNIQUE constraint failed: roles.name (2067)"
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Text:
    """A successful result: one text content item."""

    text: str


@dataclass(frozen=True)
class ToolError:
    """A tool-level failure: a result with ``isError: true`` and the message as its text."""

    text: str


class InternalError(Exception):
    """A handler error the daemon returns as JSON-RPC ``-32603`` with ``str(exc)`` as message."""


Outcome = Text | ToolError
Args = dict[str, Any]

# name → (param type, required, description[, string items]) — order as the daemon declares them.
_Param = tuple[str, str, bool, str]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: tuple[_Param, ...] = ()
    permission: str | None = None

    def schema(self) -> dict[str, Any]:
        """The tool as mcp-go serialises it in ``tools/list`` (default annotations included)."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for name, kind, is_required, description in self.params:
            prop: dict[str, Any] = {"description": description, "type": kind}
            if kind == "array":
                prop["items"] = {"type": "string"}
            properties[name] = prop
            if is_required:
                required.append(name)
        return {
            "annotations": {
                "readOnlyHint": False,
                "destructiveHint": True,
                "idempotentHint": False,
                "openWorldHint": True,
            },
            "description": self.description,
            "inputSchema": {"properties": properties, "required": required, "type": "object"},
            "name": self.name,
        }


def _p(name: str, kind: str, description: str, required: bool = False) -> _Param:
    return (name, kind, required, description)


_CH = _p("channel", "string", "Channel name", True)
_SLUG = _p("slug", "string", "Group slug", True)
TOOLS: tuple[Tool, ...] = (
    Tool("user_list", "List all registered users with their online/offline presence status", (), "user_list"),
    Tool(
        "channel_list",
        "List channels visible to you (public channels and channels you are a member of)",
        (),
        "channel_list",
    ),
    Tool(
        "channel_create",
        "Create a new channel. May be disabled by server configuration.",
        (
            _p("name", "string", "Channel name", True),
            _p("public", "boolean", "Whether the channel is visible to all users", True),
            _p("members", "array", "Usernames of initial members"),
        ),
        "create_channel",
    ),
    Tool(
        "channel_invite",
        "Add a user to a channel. You must be a participant of the channel.",
        (_CH, _p("username", "string", "Username to invite", True)),
        "invite_channel",
    ),
    Tool(
        "channel_join",
        "Join a public channel. Private channels require an invite from an existing member.",
        (_CH,),
        "join_channel",
    ),
    Tool(
        "send_message",
        "Send a text message to a channel. You must be a participant of the channel.",
        (
            _CH,
            _p("message", "string", "Message text (UTF-8)", True),
            _p("thread_id", "number", "Message ID of the parent message to reply to (creates a thread)"),
            _p(
                "metadata",
                "string",
                'Optional JSON metadata string (e.g. {"event_type":"task_transitioned",...})',
            ),
        ),
        "send_message",
    ),
    Tool(
        "unread_messages",
        "Get unread messages across all your channels, or filtered by a specific channel",
        (
            _p("channel", "string", "Optional channel name to filter by"),
            _p("mentions_only", "boolean", "If true, return only messages that @mention you"),
            _p("thread_id", "number", "If set, return only replies to this parent message ID"),
        ),
        "unread_messages",
    ),
    Tool(
        "unread_counts",
        "Get unread message and mention counts per channel. Returns only channels with unreads.",
        (),
        "unread_counts",
    ),
    Tool(
        "mark_read",
        "Mark a channel as read up to a specific message, or the latest message if not specified. "
        "Forward-only: cannot move cursor backwards.",
        (_CH, _p("message_id", "number", "Message ID to mark as read up to (default: latest)")),
        "mark_read",
    ),
    Tool(
        "history",
        "Get message history for a channel. Returns the most recent messages in chronological order.",
        (
            _CH,
            _p("before", "number", "Return messages before this message ID (for pagination)"),
            _p("after", "number", "Return messages after this message ID"),
            _p("limit", "number", "Maximum number of messages to return (default 50, max 100)"),
            _p("thread_id", "number", "If set, return only replies to this parent message ID"),
        ),
        "history",
    ),
    Tool("dm_list", "List your direct message conversations with other users", (), "dm_list"),
    Tool(
        "dm_open",
        "Open or create a direct message conversation with another user. Returns the DM channel name.",
        (_p("username", "string", "Username of the person to DM", True),),
        "dm_open",
    ),
    Tool("capabilities", "Get your current permissions."),
    Tool(
        "set_role",
        "Set a user's role.",
        (_p("username", "string", "Username to update", True), _p("role", "string", "Role to assign", True)),
        "manage_roles",
    ),
    Tool(
        "create_role",
        "Create a new custom role.",
        (_p("name", "string", "Role name", True),),
        "manage_roles",
    ),
    Tool(
        "delete_role",
        "Delete a custom role. Built-in roles cannot be deleted.",
        (_p("name", "string", "Role name", True),),
        "manage_roles",
    ),
    Tool(
        "grant_permission",
        "Grant a permission to a role.",
        (_p("role", "string", "Role name", True), _p("permission", "string", "Permission to grant", True)),
        "manage_roles",
    ),
    Tool(
        "revoke_permission",
        "Revoke a permission from a role.",
        (_p("role", "string", "Role name", True), _p("permission", "string", "Permission to revoke", True)),
        "manage_roles",
    ),
    Tool("list_roles", "List all roles and their permissions.", (), "manage_roles"),
    Tool("set_state", "Set your active/idle state.", (_p("state", "string", "State: active or idle", True),)),
    Tool(
        "wait_for_messages",
        "Block until unread messages arrive or timeout. Returns unread messages.",
        (_p("timeout", "number", "Max seconds to wait (default 30)"),),
    ),
    Tool(
        "mention_group_create",
        "Create a new mention group.",
        (_p("slug", "string", "The @-mentionable name for the group", True),),
    ),
    Tool("mention_group_delete", "Delete a mention group. Only the creator can delete.", (_SLUG,)),
    Tool("mention_group_get", "Get a mention group with its members.", (_SLUG,)),
    Tool("mention_group_list", "List all mention groups with their members."),
    Tool(
        "mention_group_add_member",
        "Add a user to a mention group. Only the creator can manage members.",
        (_SLUG, _p("username", "string", "Username to add", True)),
    ),
    Tool(
        "mention_group_remove_member",
        "Remove a user from a mention group. Only the creator can manage members.",
        (_SLUG, _p("username", "string", "Username to remove", True)),
    ),
    Tool(
        "register_webhook",
        "Register a webhook callback URL for this identity",
        (_p("url", "string", "Callback URL to POST message.new events to", True),),
    ),
    Tool(
        "unregister_webhook",
        "Remove a webhook registration",
        (_p("webhook_id", "string", "ID of the webhook to remove", True),),
    ),
    Tool("list_webhooks", "List your registered webhooks"),
)
TOOLS_BY_NAME: dict[str, Tool] = {tool.name: tool for tool in TOOLS}


# ---- mcp-go's argument getters (CallToolRequest.GetString/GetBool/GetInt, optionalInt64) ----------


def _string(args: Args, key: str) -> str:
    value = args.get(key)
    return value if isinstance(value, str) else ""


def _bool(args: Args, key: str) -> bool:
    value = args.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):  # strconv.ParseBool; its false spellings and junk both give False
        return value in ("1", "t", "T", "TRUE", "true", "True")
    if isinstance(value, int | float):
        return value != 0
    return False


def _truncate(value: float) -> int:
    """Go's ``int64(f)``: truncation toward zero (clamped where Go's result is undefined)."""
    return max(_INT64[0], min(_INT64[1], int(value)))


def _opt_int(args: Args, key: str) -> int | None:
    """``optionalInt64``: a JSON number, truncated; anything else (a string too) is absent."""
    value = args.get(key, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return _truncate(value)


def _int(args: Args, key: str, default: int) -> int:
    """``GetInt``: numbers truncated, decimal strings parsed (``strconv.Atoi``), else the default."""
    value = args.get(key)
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return _truncate(value)
    if isinstance(value, str) and _INT_RE.match(value) and _INT64[0] <= int(value) <= _INT64[1]:
        return int(value)
    return default


def _strings(args: Args, key: str) -> list[str]:
    """``GetStringSlice``: the string items of a JSON array (other items are skipped)."""
    value = args.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _json(value: Any) -> Text:
    return Text(dumps(value))


# ---- the handlers ---------------------------------------------------------------------------------


class Tools:
    """Runs one ``tools/call`` for an authenticated caller against the shared hub and state."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.state = hub.state

    def call(self, name: str, args: Args, username: str, type_: str) -> Outcome:
        """Upsert, permission check, handler. Raises KeyError for an unknown tool name."""
        tool = TOOLS_BY_NAME[name]
        self.state.upsert_identity(username, type_)
        if tool.permission is not None and not self.state.has_permission(username, tool.permission):
            return ToolError(f"permission denied: {tool.permission}")
        handler: Callable[[Args, str], Outcome] = getattr(self, "t_" + name)
        return handler(args, username)

    # ---- users, channels ---------------------------------------------------------------------

    def t_user_list(self, a: Args, me: str) -> Outcome:
        users = []
        for name in sorted(self.state.identities):
            online = name in self.hub.presence
            row = self.state.identities[name]
            user: dict[str, Any] = {"username": name, "online": online, "type": row.type}
            if online and self.hub.states.get(name):
                user["state"] = self.hub.states[name]
            users.append(user)
        return _json(users or None)

    def t_channel_list(self, a: Args, me: str) -> Outcome:
        channels = [
            {"name": c.name, "public": c.public}
            for c in sorted(self.state.channels.values(), key=lambda c: c.name)
            if c.type == "channel" and (c.public or me in c.members)
        ]
        return _json(channels or None)

    def t_channel_create(self, a: Args, me: str) -> Outcome:
        name, public = _string(a, "name"), _bool(a, "public")
        members: list[str] = []
        for username in _strings(a, "members"):
            if username not in self.state.identities:
                return ToolError(f"user not found: {username}")
            if username != me:
                members.append(username)
        # One transaction in the daemon: a failure leaves nothing behind.
        if self.state.channel_by_name(name) is not None:
            raise InternalError(f"create channel: insert channel: {UNIQUE_CHANNEL}")
        seen: set[str] = {me}
        for username in members:
            if username in seen:
                raise InternalError(
                    f"create channel: insert member {self.state.identities[username].id}: {UNIQUE_MEMBER}"
                )
            seen.add(username)
        channel = self.state.create_channel(name, public=public, creator=me, members=members)
        return Text(f"created channel {name} (id: {channel.id})")

    def t_channel_invite(self, a: Args, me: str) -> Outcome:
        channel_name, username = _string(a, "channel"), _string(a, "username")
        channel = self.state.channel_by_name(channel_name)
        if channel is None:
            return ToolError(f"channel not found: {channel_name}")
        if me not in channel.members:
            return ToolError(NOT_PARTICIPANT)
        if username not in self.state.identities:
            return ToolError(f"user not found: {username}")
        if username in channel.members:
            raise InternalError(f"add member: add member: {UNIQUE_MEMBER}")
        channel.members.append(username)
        return Text(f"invited {username} to {channel_name}")

    def t_channel_join(self, a: Args, me: str) -> Outcome:
        channel_name = _string(a, "channel")
        channel = self.state.channel_by_name(channel_name)
        if channel is None:
            return ToolError(f"channel not found: {channel_name}")
        if not channel.public:
            return ToolError("channel is private, requires an invite")
        if me in channel.members:
            return ToolError("already a member")
        channel.members.append(me)
        return Text(f"joined {channel_name}")

    # ---- messages ----------------------------------------------------------------------------

    def t_send_message(self, a: Args, me: str) -> Outcome:
        channel_name, body = _string(a, "channel"), _string(a, "message")
        thread_id = _opt_int(a, "thread_id")
        channel = self.state.channel_by_name(channel_name)
        if channel is None:
            return ToolError(f"channel not found: {channel_name}")
        if me not in channel.members:
            return ToolError(NOT_PARTICIPANT)
        metadata = _string(a, "metadata") or None
        try:
            result = self.state.send(me, channel_name, body, thread_id=thread_id, metadata=metadata)
        except StoreError as exc:  # thread errors come from the store on this path
            raise InternalError(f"send message: {exc}") from None
        sent_at = self.state.now()
        self.hub.push_message(result, sent_at)
        self.hub.publish(result, sent_at)
        return Text(f"message sent (id: {result.message.id})")

    @staticmethod
    def _item(channel: str, m: Message, *, with_id: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"channel": channel}
        if with_id:
            item["id"] = m.id
        item.update({"from": m.sender, "body": m.body, "sent_at": m.created_at})
        if m.thread_id is not None:
            item["thread_id"] = m.thread_id
        if m.mentions:
            item["mentions"] = sorted(m.mentions)
        if m.metadata is not None:
            item["metadata"] = m.metadata
        return item

    def _rows(self, channel_id: int) -> list[Message]:
        rows = (m for m in self.state.messages.values() if m.channel_id == channel_id)
        return sorted(rows, key=lambda m: m.id)

    def t_unread_messages(self, a: Args, me: str) -> Outcome:
        channel_name, mentions_only = _string(a, "channel"), _bool(a, "mentions_only")
        thread_id = _opt_int(a, "thread_id")
        if channel_name and self.state.channel_by_name(channel_name) is None:
            return ToolError(f"channel not found: {channel_name}")
        if thread_id == 0:
            return _json(None)  # a filtered read (no cursor moves) for a parent that cannot exist
        rows = self.state.unread(me, channel_name, mentions_only=mentions_only, thread_id=thread_id or 0)
        return _json([self._item(c.name, m, with_id=False) for c, m in rows] or None)

    def t_unread_counts(self, a: Args, me: str) -> Outcome:
        counts = [
            {"channel": c.name, "type": c.type, "unread_count": n, "mention_count": k}
            for c, n, k in self.state.unread_counts(me)
        ]
        return _json(counts or None)

    def t_mark_read(self, a: Args, me: str) -> Outcome:
        channel_name, message_id = _string(a, "channel"), _opt_int(a, "message_id")
        channel = self.state.channel_by_name(channel_name)
        if channel is None:
            return ToolError(f"channel not found: {channel_name}")
        if me not in channel.members:
            return ToolError(NOT_PARTICIPANT)
        latest = max((m.id for m in self._rows(channel.id)), default=0)
        target = latest if message_id is None else message_id
        if target != 0:
            if target not in self.state.messages:
                raise InternalError(f"mark read: mark read: {FK_FAILED}")
            key = (me, channel.id)
            self.state.cursors[key] = max(self.state.cursors.get(key, 0), target)
        return Text(f"marked {channel_name} as read")

    def t_history(self, a: Args, me: str) -> Outcome:
        channel_name = _string(a, "channel")
        before, after, thread_id = _opt_int(a, "before"), _opt_int(a, "after"), _opt_int(a, "thread_id")
        limit = _int(a, "limit", 50)
        channel = self.state.channel_by_name(channel_name)
        if channel is None:
            return ToolError(f"channel not found: {channel_name}")
        if me not in channel.members:
            return ToolError(NOT_PARTICIPANT)
        if limit <= 0 or limit > 100:
            limit = 50
        # The store query of §5.5 with Go's pointer semantics: a given 0 is a real bound.
        rows = self._rows(channel.id)
        if thread_id is not None:
            rows = [m for m in rows if m.thread_id == thread_id]
        if before is not None:
            rows = [m for m in rows if m.id < before][-limit:]
        elif after is not None:
            rows = [m for m in rows if m.id > after][:limit]
        else:
            rows = rows[-limit:]
        return _json([self._item(channel_name, m, with_id=True) for m in rows] or None)

    # ---- DMs, capabilities, state ------------------------------------------------------------

    def t_dm_list(self, a: Args, me: str) -> Outcome:
        return _json([{"channel": c, "participant": p} for c, p in self.state.dm_list(me)] or None)

    def t_dm_open(self, a: Args, me: str) -> Outcome:
        other = _string(a, "username")
        if other == me:
            return ToolError("cannot open DM with yourself")
        if other not in self.state.identities:
            return ToolError(f"user not found: {other}")
        try:
            channel, created = self.state.dm_open(me, other)
        except StoreError as exc:
            raise InternalError(f"open dm: {exc}") from None
        return _json({"channel": channel.name, "created": created, "participant": other})

    def t_capabilities(self, a: Args, me: str) -> Outcome:
        return _json(self.state.permissions(me) or None)

    def t_set_state(self, a: Args, me: str) -> Outcome:
        state = _string(a, "state")
        if state not in ("active", "idle"):
            return ToolError("state must be 'active' or 'idle'")
        self.hub.states[me] = state
        self.hub.broadcast_presence(me, {"state": state, "status": "online", "username": me})
        return Text(f"state set to {state}")

    def t_wait_for_messages(self, a: Args, me: str) -> Outcome:
        return ToolError("wait_for_messages is only available via mcp-bridge")

    # ---- roles (§3, §4.6) --------------------------------------------------------------------

    def t_set_role(self, a: Args, me: str) -> Outcome:
        username, role = _string(a, "username"), _string(a, "role")
        row = self.state.identities.get(username)
        if row is None:
            return ToolError(f"user not found: {username}")
        row.role = role  # the daemon does not check that the role exists
        self.hub.push_capabilities(role)
        return Text(f"set {username} role to {role}")

    def t_create_role(self, a: Args, me: str) -> Outcome:
        name = _string(a, "name")
        if name in self.state.roles:
            return ToolError(f"create role: {UNIQUE_ROLE}")
        self.state.roles[name] = set()
        return Text(f"created role {name}")

    def t_delete_role(self, a: Args, me: str) -> Outcome:
        name = _string(a, "name")
        if name in BUILTIN_ROLES or name not in self.state.roles:
            return ToolError(f"role not found or is built-in: {name}")
        if self.state.roles[name]:  # role_permissions rows still reference it
            return ToolError(f"delete role: {FK_FAILED}")
        del self.state.roles[name]
        return Text(f"deleted role {name}")

    def t_grant_permission(self, a: Args, me: str) -> Outcome:
        role, permission = _string(a, "role"), _string(a, "permission")
        if role not in self.state.roles or permission not in ALL_PERMISSIONS:
            return ToolError(f"grant permission: {FK_FAILED}")
        self.state.roles[role].add(permission)
        self.hub.push_capabilities(role)
        return Text(f"granted {permission} to {role}")

    def t_revoke_permission(self, a: Args, me: str) -> Outcome:
        role, permission = _string(a, "role"), _string(a, "permission")
        self.state.roles.get(role, set()).discard(permission)
        self.hub.push_capabilities(role)
        return Text(f"revoked {permission} from {role}")

    def t_list_roles(self, a: Args, me: str) -> Outcome:
        roles = [
            {
                "name": name,
                "built_in": name in BUILTIN_ROLES,
                "permissions": self.state.permissions_of_role(name) or None,
            }
            for name in sorted(self.state.roles)
        ]
        return _json(roles or None)

    # ---- mention groups (every failure is a tool error on this path) --------------------------

    def _group_op(self, op: Callable[[], Text]) -> Outcome:
        try:
            return op()
        except StoreError as exc:
            return ToolError(str(exc))

    def t_mention_group_create(self, a: Args, me: str) -> Outcome:
        slug = _string(a, "slug")

        def op() -> Text:
            group = self.state.group_create(me, slug)
            return Text(f"created mention group @{slug} (id: {group.id})")

        return self._group_op(op)

    def t_mention_group_delete(self, a: Args, me: str) -> Outcome:
        slug = _string(a, "slug")

        def op() -> Text:
            self.state.group_delete(me, slug)
            return Text(f"deleted mention group @{slug}")

        return self._group_op(op)

    def t_mention_group_get(self, a: Args, me: str) -> Outcome:
        slug = _string(a, "slug")
        return self._group_op(lambda: _json(Hub.group_object(self.state.group_get(slug))))

    def t_mention_group_list(self, a: Args, me: str) -> Outcome:
        return _json([Hub.group_object(g) for g in self.state.group_list()] or None)

    def _member_op(self, a: Args, me: str, *, add: bool) -> Outcome:
        slug, username = _string(a, "slug"), _string(a, "username")

        def op() -> Text:
            self.state.group_member(me, slug, username, add=add)
            return Text(f"added {username} to @{slug}" if add else f"removed {username} from @{slug}")

        return self._group_op(op)

    def t_mention_group_add_member(self, a: Args, me: str) -> Outcome:
        return self._member_op(a, me, add=True)

    def t_mention_group_remove_member(self, a: Args, me: str) -> Outcome:
        return self._member_op(a, me, add=False)

    # ---- webhooks ----------------------------------------------------------------------------

    def t_register_webhook(self, a: Args, me: str) -> Outcome:
        url = _string(a, "url")
        if not url:
            return ToolError("url is required")
        self.state.webhook_register(me, url)
        return Text("webhook registered")

    def t_unregister_webhook(self, a: Args, me: str) -> Outcome:
        webhook_id = _string(a, "webhook_id")
        if not webhook_id:
            return ToolError("webhook_id is required")
        self.state.webhook_delete(me, webhook_id)
        return Text("webhook unregistered")

    def t_list_webhooks(self, a: Args, me: str) -> Outcome:
        return _json([{"id": h.id, "url": h.url} for h in self.state.webhook_list(me)])
