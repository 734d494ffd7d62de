"""Configuration, declared once: each field below gives its environment variable, its flag, its
default and its help text; ``cli.py`` builds the flags from it and the README table is generated
from it (``python -m sharkfin_mcp.server._config --write README.md``).

Environment variables are how MCP clients pass settings; flags override them. The API key is
deliberately *not* a flag: process arguments are visible to every user of the machine (``ps``).

Everything is checked once, here, by the same code the server (at start) and ``sharkfin-mcp
doctor`` run, and every refusal is one sentence that never contains a secret.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ..client import daemon_url, header_problem, is_loopback_host, is_loopback_url
from ._sections import replace_section

__all__ = [
    "DEFAULT_URL",
    "ConfigError",
    "Option",
    "Settings",
    "choices_of",
    "config_markdown",
    "options",
    "shown_default",
]

DEFAULT_URL = "ws://127.0.0.1:16000/ws"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Transport = Literal["stdio", "http"]
StdioChoice = Literal["auto", "pipes", "sdk"]
ToolProfile = Literal["all", "core", "all,admin", "core,admin"]
"""A base profile (``all`` or ``core``), plus ``admin`` when the role-administration tools are on."""
PROFILE_FORMS = "all or core, optionally with admin added: all,admin or core,admin (+admin means all,admin)"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message (one line, no secrets) says how to fix it."""


@dataclass(frozen=True)
class Option:
    """Where a setting comes from: ``env`` (variable name) and/or ``flag`` (``--name``; for a
    boolean that defaults to true, the flag turns it off). ``secret`` values are never echoed."""

    env: str | None = None
    flag: str | None = None
    secret: bool = False
    shown_default: str | None = None
    """The default as the README and ``--help`` show it, where the value itself says nothing."""


def _setting(default: Any, help: str, option: Option, **constraints: Any) -> Any:
    """A field whose metadata carries its Option (pydantic keeps, and ignores, unknown metadata)."""
    info = Field(default, description=help, **constraints)
    info.metadata.append(option)
    return info


class Settings(BaseSettings):
    """Everything the server needs to know. ``Settings(...)`` takes values only; ``from_env``
    reads ``SHARKFIN_*`` variables (or a given mapping) and then applies flag overrides."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=False)

    url: str = _setting(
        DEFAULT_URL,
        "Daemon address: `ws://host:port/ws` or `http://host:port` (`wss`/`https` too)",
        Option("SHARKFIN_URL", "--url"),
    )
    api_key: str | None = _setting(
        None,
        "API key of the identity to act as (sent as `Authorization: ApiKey-v1 …`; never a flag)",
        Option("SHARKFIN_API_KEY", secret=True),
        repr=False,
    )
    api_key_file: str | None = _setting(
        None,
        "File holding the key, UTF-8 on one line (wins over `SHARKFIN_API_KEY`)",
        Option("SHARKFIN_API_KEY_FILE", "--api-key-file"),
    )
    api_key_source: str = Field("none", description="Where the key came from; safe to show, unlike it.")
    presence: bool = _setting(
        True,
        "Hold the `/presence` socket so the identity shows `online` in `user_list`",
        Option("SHARKFIN_PRESENCE", "--no-presence"),
    )
    event_buffer: int = _setting(
        5000,
        "Events kept for `poll_events` / `wait_for_*`",
        Option("SHARKFIN_EVENT_BUFFER", "--event-buffer"),
        ge=10,
    )
    request_timeout: float = _setting(
        30.0,
        "Seconds before a daemon request fails (the daemon can silently drop replies)",
        Option("SHARKFIN_REQUEST_TIMEOUT", "--request-timeout"),
        gt=0,
    )
    exclude_own_messages: bool = _setting(
        True, "Leave your own messages out of `wait_for_messages`", Option("SHARKFIN_EXCLUDE_OWN")
    )
    log_level: LogLevel = _setting(
        "INFO",
        "`DEBUG`, `INFO`, `WARNING`, `ERROR` (any case); logs go to stderr only",
        Option("SHARKFIN_LOG_LEVEL", "--log-level"),
    )
    read_only: bool = _setting(
        False, "List only tools that change nothing", Option("SHARKFIN_READ_ONLY", "--read-only")
    )
    tool_profile: ToolProfile = _setting(
        "all",
        "`core`: only the conversation tools (saves context); `all,admin` / `core,admin` add the "
        "role-administration tools (off by default: they change other identities' rights)",
        Option("SHARKFIN_TOOLS", "--tools"),
    )
    send_channels: str = _setting(
        "",
        "Where the agent may send: `general,ops-*,!secret` (`!` denies, deny wins)",
        Option("SHARKFIN_SEND_CHANNELS", "--send-channels", shown_default="all"),
    )
    max_sends_per_minute: int = _setting(
        60,
        "Send rate limit that stops a runaway loop (`0` = off)",
        Option("SHARKFIN_MAX_SENDS_PER_MINUTE", "--max-sends-per-minute"),
        ge=0,
    )
    allow_insecure: bool = _setting(
        False,
        "Allow sending the key over `ws://`/`http://` to a host that is not this machine",
        Option("SHARKFIN_ALLOW_INSECURE", "--allow-insecure"),
    )
    http_token: str | None = _setting(
        None,
        "Access token HTTP clients must send as `Authorization: Bearer`; required for a "
        "non-loopback `--host`",
        Option("SHARKFIN_MCP_TOKEN", secret=True),
        repr=False,
    )
    http_token_file: str | None = _setting(
        None, "File holding that token (wins over `SHARKFIN_MCP_TOKEN`)", Option("SHARKFIN_MCP_TOKEN_FILE")
    )
    transport: Transport = _setting(
        "stdio", "`stdio`, or `http` (streamable HTTP at `/mcp`)", Option(flag="--transport")
    )
    stdio_transport: StdioChoice = _setting(
        "auto",
        "stdio implementation: `auto` (asyncio pipes on Linux, the SDK's elsewhere), `pipes` or `sdk`",
        Option("SHARKFIN_STDIO_TRANSPORT"),
    )
    host: str = _setting("127.0.0.1", "HTTP bind address", Option(flag="--host"))
    port: int = _setting(8765, "HTTP port (`0`: any free port)", Option(flag="--port"), ge=0, le=65535)
    sandbox: bool = _setting(
        False,
        "Embed a sandbox daemon with demo identities and act as one of them",
        Option(flag="--sandbox", shown_default="off"),
    )
    sandbox_identity: str = _setting(
        "agent", "Demo identity to act as with `--sandbox`", Option(flag="--sandbox-as")
    )

    # Push into Claude Code (issue 12.3, see _push.py): all off unless SHARKFIN_CHANNEL is on.
    channel_push: bool = _setting(
        False,
        "Push DMs and mentions into Claude Code as `claude/channel` notifications",
        Option("SHARKFIN_CHANNEL", "--channel"),
    )
    channel_channels: str = _setting(
        "",
        "Channels whose every message is pushed too: `general,ops`",
        Option("SHARKFIN_CHANNEL_CHANNELS", shown_default="none"),
    )
    channel_burst: int = _setting(
        5, "Most pushes in any window; the rest become one summary", Option("SHARKFIN_CHANNEL_BURST"), ge=1
    )
    channel_burst_seconds: float = _setting(
        30.0, "That window, in seconds", Option("SHARKFIN_CHANNEL_BURST_SECONDS"), gt=0
    )
    channel_permission: bool = _setting(
        False,
        "Relay Claude Code's tool-approval prompts to the approvers by DM",
        Option("SHARKFIN_CHANNEL_PERMISSION"),
    )
    channel_approvers: str = _setting(
        "",
        "Usernames allowed to answer approval prompts: `alice,bob`",
        Option("SHARKFIN_CHANNEL_APPROVERS", shown_default="none"),
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_sentence(exc)) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``SHARKFIN_*`` from ``env`` (default ``os.environ``), apply the non-``None``
        ``overrides`` (flags, by field name) and check the whole: the start-up check of both the
        server and ``doctor``. Raises ConfigError, including for a clear-text key to another host."""
        with _reading(os.environ if env is None else env):
            settings = cls(**{k: v for k, v in overrides.items() if v is not None})
        if refusal := settings.cleartext_refusal():
            raise ConfigError(refusal)
        return settings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env = _ENVIRONMENT.get()
        return (init_settings,) if env is None else (init_settings, _Environment(settings_cls, env))

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        """A key file wins over the variable; the source is recorded (never the key)."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        if values.get("api_key_file"):
            path = str(values["api_key_file"])
            values["api_key"] = read_secret_file(path, "API key")
            values["api_key_source"] = f"file:{path}"
        elif values.get("api_key") and values.get("api_key_source", "none") == "none" and _ENVIRONMENT.get():
            values["api_key_source"] = "env:SHARKFIN_API_KEY"
        if values.get("http_token_file"):
            values["http_token"] = read_secret_file(str(values["http_token_file"]), "access token")
        return values

    @field_validator("api_key", "http_token", mode="before")
    @classmethod
    def _header_safe(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        name = "SHARKFIN_API_KEY" if info.field_name == "api_key" else "SHARKFIN_MCP_TOKEN"
        return check_secret(value, name) or None

    @field_validator("url", mode="before")
    @classmethod
    def _canonical_url(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return daemon_url(value)
        except ValueError as exc:
            raise ConfigError(f"SHARKFIN_URL {exc}") from None

    @field_validator("tool_profile", mode="before")
    @classmethod
    def _profile(cls, value: Any) -> Any:
        """``CORE, Admin``, ``admin,core`` and ``+admin`` name a profile too; anything else is refused
        with the forms that work."""
        if not isinstance(value, str):
            return value
        words = [w for w in re.split(r"[\s,+]+", value.strip().lower()) if w]
        bases = [w for w in words if w in ("all", "core")]
        if not bases and value.strip().startswith("+"):
            bases = ["all"]
        if len(set(bases)) != 1 or set(words) - {"all", "core", "admin"}:
            raise ConfigError(f"SHARKFIN_TOOLS / --tools must be {PROFILE_FORMS}, not {value!r}")
        return bases[0] + (",admin" if "admin" in words else "")

    @property
    def core_only(self) -> bool:
        """Only the conversation tools (and the admin ones, if added)."""
        return self.tool_profile.startswith("core")

    @property
    def admin_tools(self) -> bool:
        """The ``admin`` profile (role administration) is on."""
        return self.tool_profile.endswith(",admin")

    @field_validator("log_level", "transport", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

    @model_validator(mode="after")
    def _permission_needs_push_and_approvers(self) -> Settings:
        if self.channel_permission and not (self.channel_push and self.channel_approvers.strip()):
            raise ConfigError(
                "SHARKFIN_CHANNEL_PERMISSION needs SHARKFIN_CHANNEL=on and at least one approver in "
                "SHARKFIN_CHANNEL_APPROVERS (comma-separated usernames)"
            )
        return self

    @model_validator(mode="after")
    def _http_needs_token_off_loopback(self) -> Settings:
        if self.transport == "http" and not is_loopback_host(self.host) and not self.http_token:
            raise ConfigError(
                f"serving HTTP on {self.host} (not loopback) needs an access token: set "
                "SHARKFIN_MCP_TOKEN (or SHARKFIN_MCP_TOKEN_FILE); clients then send "
                "'Authorization: Bearer <token>'"
            )
        return self

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


# -- reading -------------------------------------------------------------------------------------

_ENVIRONMENT: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "sharkfin_environment", default=None
)


@contextlib.contextmanager
def _reading(env: Mapping[str, str]) -> Iterator[None]:
    token = _ENVIRONMENT.set(env)
    try:
        yield
    finally:
        _ENVIRONMENT.reset(token)


class _Environment(PydanticBaseSettingsSource):
    """Each field's own variable (named in its Option), from a mapping; empty means unset."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        option = option_of(field)
        raw = self._env.get(option.env) if option and option.env else None
        return (raw if raw else None), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


_INVISIBLE = " \t\r\n\v\f\ufeff\u200b\u00a0"


def check_secret(raw: str, name: str) -> str:
    """The secret with surrounding whitespace and byte-order marks stripped; raises ConfigError if
    what is left cannot travel in an HTTP header. The message names the offending character's
    kind and position, never the secret."""
    secret = raw.strip(_INVISIBLE)
    if problem := header_problem(secret):
        raise ConfigError(
            f"{name} has {problem}, which cannot be sent in an HTTP header; copy the key again as "
            "plain ASCII on one line"
        )
    return secret


def read_secret_file(path: str, what: str) -> str:
    """The secret in ``path``: UTF-8 text, one line, surrounding whitespace and BOM stripped."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"the {what} file {path} is not UTF-8 text; save it as plain UTF-8 with the key on one line"
        ) from None
    text = text.strip(_INVISIBLE)
    if not text:
        raise ConfigError(f"the {what} file {path} is empty")
    if len(text.splitlines()) > 1:
        raise ConfigError(f"the {what} file {path} has more than one line; it must hold only the key")
    return check_secret(text, f"the {what} file {path}")


def _sentence(exc: ValidationError) -> str:
    """The first problem as one line that names the variable and flag, and never a secret."""
    error = exc.errors(include_url=False)[0]
    if error["type"] == "value_error" and isinstance((error.get("ctx") or {}).get("error"), Exception):
        return str(error["ctx"]["error"])
    name = str(error["loc"][0]) if error["loc"] else ""
    field = Settings.model_fields.get(name)
    option = option_of(field) if field else None
    where = " / ".join(x for x in (option.env, option.flag) if x) if option else name
    if option is None or not where:
        where = name or "the configuration"
    given = "" if option is None or option.secret else f", not {error.get('input')!r}"
    choices = choices_of(field) if field else ()
    if choices:
        return f"{where} must be one of {', '.join(choices)}{given}"
    message = _PLAIN.get(error["type"]) or str(error["msg"]).removeprefix("Input should be ")
    return f"{where} must be {message}{given}"


_PLAIN = {
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "bool_parsing": "true or false",
    "string_type": "text",
}


# -- the declaration, for the CLI and the README ------------------------------------------------


def option_of(field: FieldInfo) -> Option | None:
    return next((m for m in field.metadata if isinstance(m, Option)), None)


def choices_of(field: FieldInfo) -> tuple[str, ...]:
    """The allowed values of a ``Literal`` field, else ()."""
    choices = get_args(field.annotation)
    return choices if choices and all(isinstance(c, str) for c in choices) else ()


def options() -> Iterator[tuple[str, FieldInfo, Option]]:
    """Every user-facing setting, in declaration order."""
    for name, field in Settings.model_fields.items():
        option = option_of(field)
        if option is not None:
            yield name, field, option


def shown_default(field: FieldInfo, option: Option) -> str:
    if option.shown_default is not None:
        return option.shown_default
    value = field.default
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


BEGIN = "<!-- config:begin (generated by python -m sharkfin_mcp.server._config --write README.md) -->"
END = "<!-- config:end -->"


def config_markdown() -> str:
    """The README's configuration table."""
    rows = ["| Variable | Flag | Default | Meaning |", "|---|---|---|---|"]
    for _, field, option in options():
        env = f"`{option.env}`" if option.env else "—"
        flag = f"`{option.flag}`" if option.flag else "—"
        rows.append(f"| {env} | {flag} | {shown_default(field, option)} | {field.description} |")
    return "\n".join(rows)


def _write(path: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    Path(path).write_text(replace_section(text, BEGIN, END, config_markdown()), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        for target in sys.argv[2:]:
            _write(target)
    else:
        sys.stdout.write(config_markdown() + "\n")  # stdout-ok: a command for people
