"""The one place the API key is turned into a header, and kept out of logs and reprs."""

from __future__ import annotations

import logging

__all__ = ["RedactKey", "auth_headers"]


def auth_headers(api_key: str | None) -> dict[str, str]:
    """Sharkfin's consumer scheme is ``ApiKey-v1``; an API key sent as ``Bearer`` is rejected."""
    return {"Authorization": f"ApiKey-v1 {api_key}"} if api_key else {}


class RedactKey(logging.Filter):
    """Scrubs the key from records of loggers that echo handshake headers (websockets at DEBUG)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secret and self._secret in record.getMessage():
            record.msg = record.getMessage().replace(self._secret, "***")
            record.args = None
        return True
