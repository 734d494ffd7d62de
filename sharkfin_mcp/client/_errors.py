"""The exceptions the client raises, drawn as a tree so a caller sees at a glance what to catch.

    SharkfinError                    every error this package raises
    ├── ServerError                  the daemon said no: an ``ok:false`` reply or an HTTP error
    │   ├── BadRequest               400, or a WS reply the daemon gives for bad arguments
    │   ├── AuthenticationError      401: the API key was rejected (also on connect)
    │   ├── PermissionDenied         403, ``permission denied: <perm>`` (``.permission``), not a member
    │   ├── NotFound                 404, or ``… not found: <x>``
    │   ├── Conflict                 409, or a uniqueness violation / ``already a member``
    │   └── MalformedReply           the daemon answered, but not in a shape this client understands
    ├── TransportError               the connection, not the daemon, failed
    │   ├── ConnectError             the daemon could not be reached (refused, DNS, TLS, handshake)
    │   │   └── WrongAddress         something answered, but not Sharkfin's WebSocket (HTTP 404)
    │   ├── NotConnected             no live connection (lost mid-request, or reconnecting)
    │   └── ClientClosed             the client was closed by its owner
    ├── RequestTimeout               no reply in time (the daemon silently drops replies when busy)
    └── InvalidMetadata              metadata is not a JSON object; raised before anything is sent

WebSocket error replies carry no HTTP status, so ``ServerError.status`` is ``None`` for them; the
subclass is chosen from the daemon's (stable) message text so that callers branch the same way on
both transports.
"""

from __future__ import annotations

import re

from ._auth import redact

__all__ = [
    "AuthenticationError",
    "BadRequest",
    "ClientClosed",
    "Conflict",
    "ConnectError",
    "InvalidMetadata",
    "MalformedReply",
    "NotConnected",
    "NotFound",
    "PermissionDenied",
    "RequestTimeout",
    "ServerError",
    "SharkfinError",
    "TransportError",
    "WrongAddress",
    "server_error_from_http",
    "server_error_from_reply",
]


class SharkfinError(Exception):
    """Base class of every error raised by sharkfin_mcp.client.

    Its text is redacted as it is made (:func:`~sharkfin_mcp.client.redact`): a daemon's reply
    body, a proxy's error page or a transport exception may quote the request's
    ``Authorization`` header, and no raise site has to remember that."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ServerError(SharkfinError):
    """The daemon refused a request. ``message`` is its text; ``status`` the HTTP code, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message: str = self.args[0]
        self.status = status

    def __str__(self) -> str:
        return self.message


class BadRequest(ServerError):
    pass


class AuthenticationError(ServerError):
    pass


class PermissionDenied(ServerError):
    @property
    def permission(self) -> str | None:
        """The RBAC permission the identity's role lacks, when the daemon named it."""
        match = _PERMISSION.search(self.message)
        return match.group(1) if match else None


class NotFound(ServerError):
    pass


class Conflict(ServerError):
    pass


class MalformedReply(ServerError):
    pass


class TransportError(SharkfinError):
    pass


class ConnectError(TransportError):
    pass


class WrongAddress(ConnectError):
    """The address answered the WebSocket upgrade with 404: a wrong path or port, not a daemon
    that is down. Retrying the same address will not help; the configuration must change."""


class NotConnected(TransportError):
    pass


class ClientClosed(TransportError):
    pass


class RequestTimeout(SharkfinError):
    pass


class InvalidMetadata(SharkfinError, ValueError):
    pass


_PERMISSION = re.compile(r"permission denied: (\S+)")
_BY_STATUS: dict[int, type[ServerError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}
# Texts produced by Sharkfin itself (PROTOCOL.md §4.5); store texts only matter for UNIQUE.
_BY_TEXT: tuple[tuple[re.Pattern[str], type[ServerError]], ...] = (
    (
        re.compile(
            r"^permission denied|^you are not a participant|^only the group creator|^notification-only"
        ),
        PermissionDenied,
    ),
    (re.compile(r"not found|^username is required$|^channel is required$"), NotFound),
    (re.compile(r"UNIQUE constraint|already a member|conflicts with existing"), Conflict),
    (
        re.compile(r"^invalid |^state must be|cannot |parent message|^unknown type"),
        BadRequest,
    ),
)


def server_error_from_reply(message: str) -> ServerError:
    """Classify a WebSocket ``ok:false`` reply by its text."""
    for pattern, cls in _BY_TEXT:
        if pattern.search(message):
            return cls(message)
    return ServerError(message)


def server_error_from_http(status: int, body: str) -> ServerError:
    """Map an HTTP error the way the Go client does: ``HTTP <code>: <body>``."""
    cls = _BY_STATUS.get(status, ServerError)
    return cls(f"HTTP {status}: {body.strip()}", status)
