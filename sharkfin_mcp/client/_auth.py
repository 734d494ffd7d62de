"""The one place the API key is turned into a header, and kept out of logs and reprs."""

from __future__ import annotations

import collections
import logging

__all__ = ["WIRE_LOG", "auth_headers", "forget_secret", "remember_secret"]


def auth_headers(api_key: str | None) -> dict[str, str]:
    """Sharkfin's consumer scheme is ``ApiKey-v1``; an API key sent as ``Bearer`` is rejected."""
    return {"Authorization": f"ApiKey-v1 {api_key}"} if api_key else {}


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
