"""The one place the API key is turned into a header, and kept out of logs and reprs."""

from __future__ import annotations

import collections
import logging
import re

__all__ = ["WIRE_LOG", "auth_headers", "forget_secret", "header_problem", "redact", "remember_secret"]


def header_problem(secret: str) -> str | None:
    """Why ``secret`` cannot travel in an HTTP header (``"a line break at character 3 of 9"``),
    or None. Only printable ASCII without spaces passes; the answer never quotes the secret."""
    for position, char in enumerate(secret, start=1):
        if "!" <= char <= "~":
            continue
        if char in "\r\n\u2028\u2029\x85":
            kind = "a line break"
        elif char.isspace() or char in "\ufeff\u200b":
            kind = "a space or invisible character"
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        return f"{kind} at character {position} of {len(secret)}"
    return None


def auth_headers(api_key: str | None) -> dict[str, str]:
    """Sharkfin's consumer scheme is ``ApiKey-v1``; an API key sent as ``Bearer`` is rejected.

    Raises ValueError (without the key) for a key that cannot be a header value: HTTP libraries
    would otherwise fail later with an encoding error that quotes it, or split the header."""
    if not api_key:
        return {}
    if problem := header_problem(api_key):
        raise ValueError(f"the API key has {problem}, which cannot be sent in an HTTP header")
    return {"Authorization": f"ApiKey-v1 {api_key}"}


MIN_REDACTED = 6
"""Shorter "keys" (test stand-ins like ``k``) would turn every word containing them into ``***``."""
_CREDENTIALS = re.compile(r"(?i)\b(ApiKey-v1|Bearer|Basic)(\s+)[^\s'\",;]+")


def redact(text: str) -> str:
    """``text`` with every live key and any credential after an auth scheme replaced by ``***``.

    Applied where transport exceptions (websockets, httpx) and reply bodies become this package's
    errors, since their texts may quote request headers (a proxy's error page, a handshake dump).
    """
    for secret in _REDACT.secrets:
        if len(secret) >= MIN_REDACTED:
            text = text.replace(secret, "***")
    return _CREDENTIALS.sub(r"\1\2***", text)


class _RedactSecrets(logging.Filter):
    """Scrubs live keys from records of loggers that echo handshake headers (websockets at DEBUG).

    One filter for the process, holding the keys of open clients (counted, since two clients may
    share a key), so that filters do not pile up on the shared logger as clients come and go.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: collections.Counter[str] = collections.Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = message
        for secret in self.secrets:
            scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_REDACT = _RedactSecrets()
WIRE_LOG = logging.getLogger("sharkfin_mcp.client.wire")
"""The logger handed to websockets; it logs frames and handshake headers at DEBUG."""
WIRE_LOG.addFilter(_REDACT)


def remember_secret(secret: str | None) -> None:
    if secret:
        _REDACT.secrets[secret] += 1


def forget_secret(secret: str | None) -> None:
    if secret and _REDACT.secrets[secret] > 0:
        _REDACT.secrets[secret] -= 1
        if not _REDACT.secrets[secret]:
            del _REDACT.secrets[secret]
