"""Derive the WebSocket and REST addresses from whichever one the user gave.

Users paste either ``ws://host:port/ws`` (what the Go client dials) or ``http://host:port`` (the
REST base). Both forms name the same daemon, so every entry point accepts both.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "is_loopback_host",
    "is_loopback_url",
    "notifications_url",
    "presence_url",
    "rest_base_url",
    "ws_url",
]

_TO_HTTP = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
_TO_WS = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def _split(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _TO_HTTP or not parts.netloc:
        raise ValueError(f"not a Sharkfin address: {url!r} (expected ws://host:port/ws or http://host:port)")
    return scheme, parts.netloc, parts.path, parts.query


def rest_base_url(url: str) -> str:
    """``ws://h:p/ws`` → ``http://h:p``, like the Go client: strip ``/ws`` then ``/``."""
    scheme, netloc, path, query = _split(url)
    if not query:
        path = path.removesuffix("/ws").removesuffix("/")
    return urlunsplit((_TO_HTTP[scheme], netloc, path, query, ""))


def ws_url(url: str) -> str:
    """``http://h:p`` → ``ws://h:p/ws``; a URL that already names a ws path is kept."""
    scheme, netloc, path, query = _split(url)
    if scheme in ("http", "https") or not path.rstrip("/"):
        path = path.rstrip("/") + "/ws"
    return urlunsplit((_TO_WS[scheme], netloc, path, query, ""))


def presence_url(url: str) -> str:
    """The ``/presence`` socket next to the REST base."""
    scheme, netloc, path, _ = _split(rest_base_url(url))
    return urlunsplit((_TO_WS[scheme], netloc, path + "/presence", "", ""))


def notifications_url(url: str) -> str:
    """The ``/notifications/subscribe`` socket next to the REST base (PROTOCOL.md §9)."""
    scheme, netloc, path, _ = _split(rest_base_url(url))
    return urlunsplit((_TO_WS[scheme], netloc, path + "/notifications/subscribe", "", ""))


def is_loopback_host(host: str) -> bool:
    """True for this machine's own addresses, where a clear-text key does not cross a network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")
