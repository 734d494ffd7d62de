"""What tools return: typed results (the ``outputSchema``) and their compact text rendering.

Agents pay for every token they read, so the text block is one line per item rather than the
SDK's default pretty-printed JSON; the full data is in ``structuredContent``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ..client import DM, Channel, MentionGroup, Message, MessageEvent, UnreadCount, User, Webhook
from ._buffer import BufferedEvent
from ._render import clean, clean_json, is_clean, lines

__all__ = [
    "MESSAGE_ITEM_SCHEMA",
    "CapabilitiesResult",
    "ChannelCreateResult",
    "ChannelMessages",
    "ChannelsResult",
    "DMListResult",
    "EventOut",
    "EventsResult",
    "HistoryResult",
    "InviteResult",
    "JoinResult",
    "MarkReadResult",
    "MentionGroupMemberResult",
    "MentionGroupResult",
    "MentionGroupsResult",
    "MessageRow",
    "SendResult",
    "SettingResult",
    "SettingsResult",
    "StateResult",
    "UnreadCountsResult",
    "UnreadResult",
    "UsersResult",
    "WebhookResult",
    "WebhooksResult",
    "WhoamiResult",
    "message_line",
    "message_row",
    "render_messages",
    "result",
]


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)


MessageRow = dict[str, Any]
"""One message as agents see it, the same everywhere (history, unread, events, resources): ``id``,
``from``, ``body``, and when present ``sent_at``, ``thread_id``, ``mentions``, ``metadata``. The
channel is not repeated in every row: the result or event that holds the row names it. Plain dicts
rather than models: a history page builds up to a hundred per call, and they are already validated
by the client's models."""


def message_row(message: Message | MessageEvent) -> MessageRow:
    row: MessageRow = {"id": message.id or 0, "from": message.sender, "body": message.body}
    if message.sent_at:
        row["sent_at"] = utc_text(message.sent_at)
    if message.thread_id:
        row["thread_id"] = message.thread_id
    if message.mentions:
        row["mentions"] = list(message.mentions)
    if message.metadata is not None:
        row["metadata"] = message.metadata
    return row


def utc_text(moment: datetime) -> str:
    """``2026-11-30T11:36:24Z``: RFC 3339 in UTC, to the second (faster than ``strftime``, which
    asks pydantic's time zone object for its offset and name on every call)."""
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:19] + "Z"


def message_line(row: MessageRow, channel: str) -> str:
    """``[id] time #channel sender ↳thread: body`` on one line, every field escaped (``_render``).

    The line is built once unescaped and searched once: separators are all safe characters, so
    when the whole line has nothing to escape, no field has, and escaping each would change
    nothing. Only a line that needs it is rebuilt with every field escaped."""
    meta = f" meta={clean_json(row['metadata'])}" if row.get("metadata") else ""
    plain = _message_line(row, channel, meta, str)
    return plain if is_clean(plain) else _message_line(row, channel, meta, clean)


def _message_line(row: MessageRow, channel: str, meta: str, text: Callable[[object], str]) -> str:
    thread = f" ↳{text(row['thread_id'])}" if row.get("thread_id") else ""
    sent_at = text(row.get("sent_at") or "-")
    head = f"[{text(row.get('id'))}] {sent_at} #{text(channel)} {text(row.get('from'))}"
    return f"{head}{thread}: {text(row.get('body', ''))}{meta}"


MESSAGE_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A message: id (integer; reply with thread_id=id, or mark_read up to it), from "
    "(string), body (string), sent_at (RFC 3339 UTC string), thread_id (integer, the parent of a "
    "reply), mentions (array of usernames), metadata (any JSON); id, from and body are always "
    "there, the others absent when empty.",
}
"""A lean schema for one message: an object, its fields named in the description.

MCP clients validate every structured result against the output schema, and per-field checks of
every message were the largest single cost of a history call: with just ``id``/``from``/``body``
typed and required, the Python SDK's jsonschema spent about 5 ms of client CPU on a 20-message page
(measured here), more than the server's whole work. The fields are few and stable, so they are
documented instead of checked one by one, and a test keeps the description in step with
:func:`message_row`. There is no ``required`` list, so strict compilers (Ajv strict) have nothing
to object to.
"""


Messages = Annotated[list[MessageRow], WithJsonSchema({"type": "array", "items": MESSAGE_ITEM_SCHEMA})]


# -- messages -------------------------------------------------------------------------------------


class HistoryResult(Out):
    messages: Messages
    next_before: int | None = Field(
        default=None, description="Present when older messages exist: pass as before= to page back"
    )


class ChannelMessages(Out):
    channel: str
    messages: Messages


class UnreadResult(Out):
    channels: list[ChannelMessages] = Field(description="Per channel, its unread messages oldest first")
    remaining: int = Field(description="Unread messages not returned because of the limit")


class SendResult(Out):
    id: int
    channel: str
    thread_id: int | None = None
    duplicate: bool = Field(
        default=False, description="True if an earlier send with the same idempotency_key was reused"
    )


class UnreadCountsResult(Out):
    counts: list[UnreadCount] = Field(description="Only channels with something unread")


class MarkReadResult(Out):
    channel: str
    message_id: int | None = Field(default=None, description="Read up to this id; absent: all")


# -- channels and DMs -----------------------------------------------------------------------------


class ChannelsResult(Out):
    channels: list[Channel]


class ChannelCreateResult(Out):
    channel: str
    public: bool
    members: list[str] = Field(default_factory=list, description="Members besides you")


class JoinResult(Out):
    channel: str
    joined: bool = Field(description="False when you were a member already (nothing changed)")


class InviteResult(Out):
    channel: str
    username: str
    invited: bool = Field(description="False when the user was a member already (nothing changed)")


class DMListResult(Out):
    dms: list[DM]


# -- people ---------------------------------------------------------------------------------------


class UsersResult(Out):
    users: list[User]


class StateResult(Out):
    state: str


class CapabilitiesResult(Out):
    permissions: list[str]


class WhoamiResult(Out):
    username: str
    type: str
    role: str
    permissions: list[str]
    url: str
    connected: bool
    online: bool = Field(description="Whether the /presence socket is open (user_list shows you online)")
    admin_tools: bool = Field(description="Whether the admin profile's role tools are listed")


# -- mention groups -------------------------------------------------------------------------------


class MentionGroupResult(Out):
    slug: str
    id: int | None = None


class MentionGroupsResult(Out):
    groups: list[MentionGroup]


class MentionGroupMemberResult(Out):
    slug: str
    username: str


# -- webhooks and settings ------------------------------------------------------------------------


class WebhookResult(Out):
    id: str
    url: str | None = None


class WebhooksResult(Out):
    webhooks: list[Webhook]


class SettingsResult(Out):
    settings: dict[str, str]


class SettingResult(Out):
    key: str


# -- events ---------------------------------------------------------------------------------------


class EventOut(Out):
    seq: int
    type: str
    channel: str | None = Field(default=None, description="For message.new: the channel or DM")
    data: dict[str, Any] = Field(description="For message.new, the message (see history)")
    received_at: str
    caught_up: bool | None = Field(default=None, description="True when recovered after an outage")

    @classmethod
    def of(cls, event: BufferedEvent) -> EventOut:
        return cls(
            seq=event.seq,
            type=event.type,
            channel=event.channel,
            data=event.data,
            received_at=event.received_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            caught_up=event.caught_up or None,
        )

    def line(self) -> str:
        d = self.data
        if self.type == "message.new":
            return (
                f"#{self.seq} {'(caught up) ' if self.caught_up else ''}{message_line(d, self.channel or '')}"
            )
        return f"#{self.seq} {clean(self.type)} {clean_json(d)}"


class EventsResult(Out):
    events: list[EventOut]
    next_after: int = Field(description="Pass as after= on the next poll/wait to continue from here")
    dropped: int = Field(description="Events that left the buffer before you read them (0 = none lost)")
    timed_out: bool = False
    hint: str | None = Field(default=None, description="What to do next, when you must do something")


def result(model: BaseModel, text: str) -> CallToolResult:
    """A tool result: ``model`` as ``structuredContent`` (absent fields left out, as everywhere),
    and ``text``, its compact rendering."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def render_messages(messages: list[MessageRow], channel: str, empty: str = "no messages") -> str:
    return lines(messages, lambda m: message_line(m, channel), empty)
