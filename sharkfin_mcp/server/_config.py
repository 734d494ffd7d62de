"""Configuration: environment variables first (how MCP clients pass settings), flags override.

The API key is deliberately *not* a flag: process arguments are visible to every user of the
machine (``ps``), so it comes from ``SHARKFIN_API_KEY`` or a file named by
``SHARKFIN_API_KEY_FILE`` / ``--api-key-file``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..client import is_loopback_host, is_loopback_url

__all__ = ["DEFAULT_URL", "ConfigError", "Settings"]

DEFAULT_URL = "ws://127.0.0.1:16000/ws"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    url: str = DEFAULT_URL
    api_key: str | None = field(default=None, repr=False)
    api_key_source: str = "none"
    """Where the key came from (``env``, ``file:<path>``, ``sandbox``): safe to show, unlike the key."""
    sandbox: bool = False
    sandbox_identity: str = "agent"
    presence: bool = True
    event_buffer: int = 5000
    request_timeout: float = 30.0
    exclude_own_messages: bool = True
    log_level: str = "INFO"
    transport: str = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    read_only: bool = False
    tool_profile: str = "all"
    send_channels: str = ""
    max_sends_per_minute: int = 60
    allow_insecure: bool = False
    http_token: str | None = field(default=None, repr=False)
    # Push into Claude Code (issue 12.3, see _push.py): all off unless SHARKFIN_CHANNEL is on.
    channel_push: bool = False
    channel_channels: str = ""
    channel_burst: int = 5
    channel_burst_seconds: float = 30.0
    channel_permission: bool = False
    channel_approvers: str = ""

    def __repr__(self) -> str:  # never show the key
        fields = ", ".join(
            f"{k}={v!r}" for k, v in self.__dict__.items() if k not in ("api_key", "http_token")
        )
        return f"Settings({fields})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``SHARKFIN_*`` variables, then apply non-``None`` overrides (from flags)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "url": env.get("SHARKFIN_URL") or DEFAULT_URL,
            "presence": _flag(env, "SHARKFIN_PRESENCE", True),
            "event_buffer": _int(env, "SHARKFIN_EVENT_BUFFER", 5000, minimum=10),
            "request_timeout": _float(env, "SHARKFIN_REQUEST_TIMEOUT", 30.0),
            "exclude_own_messages": _flag(env, "SHARKFIN_EXCLUDE_OWN", True),
            "log_level": (env.get("SHARKFIN_LOG_LEVEL") or "INFO").upper(),
            "read_only": _flag(env, "SHARKFIN_READ_ONLY", False),
            "tool_profile": env.get("SHARKFIN_TOOLS") or "all",
            "send_channels": env.get("SHARKFIN_SEND_CHANNELS") or "",
            "max_sends_per_minute": _int(env, "SHARKFIN_MAX_SENDS_PER_MINUTE", 60, minimum=0),
            "allow_insecure": _flag(env, "SHARKFIN_ALLOW_INSECURE", False),
            "channel_push": _flag(env, "SHARKFIN_CHANNEL", False),
            "channel_channels": env.get("SHARKFIN_CHANNEL_CHANNELS") or "",
            "channel_burst": _int(env, "SHARKFIN_CHANNEL_BURST", 5),
            "channel_burst_seconds": _float(env, "SHARKFIN_CHANNEL_BURST_SECONDS", 30.0),
            "channel_permission": _flag(env, "SHARKFIN_CHANNEL_PERMISSION", False),
            "channel_approvers": env.get("SHARKFIN_CHANNEL_APPROVERS") or "",
        }
        token_file = env.get("SHARKFIN_MCP_TOKEN_FILE")
        if token_file:
            values["http_token"] = _read_key_file(token_file)
        elif env.get("SHARKFIN_MCP_TOKEN"):
            values["http_token"] = env["SHARKFIN_MCP_TOKEN"].strip()
        key_file = overrides.pop("api_key_file", None) or env.get("SHARKFIN_API_KEY_FILE")
        if key_file:
            values["api_key"] = _read_key_file(str(key_file))
            values["api_key_source"] = f"file:{key_file}"
        elif env.get("SHARKFIN_API_KEY"):
            values["api_key"] = env["SHARKFIN_API_KEY"].strip()
            values["api_key_source"] = "env:SHARKFIN_API_KEY"
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.tool_profile not in ("all", "core"):
            raise ConfigError(f"SHARKFIN_TOOLS must be 'all' or 'core', not {self.tool_profile!r}")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(
                f"SHARKFIN_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {self.log_level!r}"
            )
        if self.transport == "http" and not is_loopback_host(self.host) and not self.http_token:
            raise ConfigError(
                f"serving HTTP on {self.host} (not loopback) needs an access token: set "
                "SHARKFIN_MCP_TOKEN (or SHARKFIN_MCP_TOKEN_FILE); clients then send "
                "'Authorization: Bearer <token>'"
            )

        if self.channel_permission and not (self.channel_push and self.channel_approvers.strip()):
            raise ConfigError(
                "SHARKFIN_CHANNEL_PERMISSION needs SHARKFIN_CHANNEL=on and at least one approver in "
                "SHARKFIN_CHANNEL_APPROVERS (comma-separated usernames)"
            )

    def cleartext_refusal(self) -> str | None:
        """Why the key must not be sent to ``url``, or None. ws:// and http:// carry it in clear
        text, which is fine on this machine and nowhere else unless the operator says so."""
        if not self.api_key or self.allow_insecure or self.url.startswith(("wss:", "https:")):
            return None
        if is_loopback_url(self.url):
            return None
        return (
            f"refusing to send the API key in clear text to {self.url}: it is not on this machine. "
            "Use wss:// or https:// (for example behind a TLS proxy), or set "
            "SHARKFIN_ALLOW_INSECURE=true if the network is trusted."
        )


def _read_key_file(path: str) -> str:
    try:
        key = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the API key file {path}: {exc.strerror}") from None
    if not key:
        raise ConfigError(f"the API key file {path} is empty")
    return key


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive")
    return value
