"""A typed async client for the Sharkfin messaging daemon.

The Python counterpart of Sharkfin's Go client package::

    from sharkfin_mcp.client import SharkfinClient

    async with await SharkfinClient.connect("ws://127.0.0.1:16000/ws", api_key=key) as sf:
        await sf.join_channel("general")
        message_id = await sf.send_message("general", "hello @bob")
        async for event in sf.events():
            ...

``SharkfinClient`` speaks the ``/ws`` protocol (plus the few REST-only operations, and the
role administration the daemon serves only on ``/mcp``, via :class:`AdminClient`);
``RESTClient`` is HTTP only, with no background tasks. Both accept ``ws://host:port/ws`` or
``http://host:port``. Errors are in :mod:`._errors`, drawn as a tree.
"""

from ._admin import AdminClient, Role
from ._auth import header_problem, redact
from ._backoff import Backoff, ExponentialBackoff
from ._client import SharkfinClient
from ._errors import (
    AuthenticationError,
    BadRequest,
    ClientClosed,
    Conflict,
    ConnectError,
    InvalidMetadata,
    MalformedReply,
    NotConnected,
    NotFound,
    PermissionDenied,
    RequestTimeout,
    ServerError,
    SharkfinError,
    TransportError,
    WrongAddress,
)
from ._events import (
    CapabilitiesEvent,
    DisconnectEvent,
    Event,
    EventsDropped,
    MessageEvent,
    PresenceEvent,
    ReconnectEvent,
    UnknownEvent,
)
from ._mcp_rpc import McpRpc
from ._models import (
    DM,
    Channel,
    CreatedChannel,
    DMOpened,
    MentionGroup,
    Message,
    RegisteredIdentity,
    SentMessage,
    UnreadCount,
    User,
    Webhook,
)
from ._notifications import FeedConnected, Notification, notification_feed
from ._presence import PresenceKeeper
from ._rest import RESTClient
from ._urls import VALID_URL_FORMS, daemon_url, is_loopback_host, is_loopback_url, rest_base_url, ws_url

__all__ = [
    "DM",
    "VALID_URL_FORMS",
    "AdminClient",
    "AuthenticationError",
    "Backoff",
    "BadRequest",
    "CapabilitiesEvent",
    "Channel",
    "ClientClosed",
    "Conflict",
    "ConnectError",
    "CreatedChannel",
    "DMOpened",
    "DisconnectEvent",
    "Event",
    "EventsDropped",
    "ExponentialBackoff",
    "FeedConnected",
    "InvalidMetadata",
    "MalformedReply",
    "McpRpc",
    "MentionGroup",
    "Message",
    "MessageEvent",
    "NotConnected",
    "NotFound",
    "Notification",
    "PermissionDenied",
    "PresenceEvent",
    "PresenceKeeper",
    "RESTClient",
    "ReconnectEvent",
    "RegisteredIdentity",
    "RequestTimeout",
    "Role",
    "SentMessage",
    "ServerError",
    "SharkfinClient",
    "SharkfinError",
    "TransportError",
    "UnknownEvent",
    "UnreadCount",
    "User",
    "Webhook",
    "WrongAddress",
    "daemon_url",
    "header_problem",
    "is_loopback_host",
    "is_loopback_url",
    "notification_feed",
    "redact",
    "rest_base_url",
    "ws_url",
]
