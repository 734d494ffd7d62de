"""Settings declared once: a variable and its flag mean the same thing, every refusal is one line
without the secret, keys are cleaned the same way from the environment and from a file, and
daemon URLs are normalised or refused with the valid forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharkfin_mcp.cli import _parser
from sharkfin_mcp.server import ConfigError, Settings
from sharkfin_mcp.server._config import choices_of, options

# A sample value per setting, valid through both its variable and its flag.
SAMPLES: dict[str, str] = {
    "url": "http://127.0.0.1:1234/",
    "event_buffer": "77",
    "request_timeout": "2.5",
    "log_level": "debug",
    "tool_profile": "CORE",
    "send_channels": "general,!secret",
    "max_sends_per_minute": "0",
    "transport": "HTTP",
    "host": "127.0.0.2",
    "port": "0",
    "sandbox_identity": "bob",
}


def from_flags(*argv: str, env: dict[str, str] | None = None) -> Settings:
    return Settings.from_env(env or {}, **vars(_parser().parse_args(list(argv))))


@pytest.mark.parametrize("name", [name for name, _, option in options() if option.flag])
def test_every_flag_sets_the_same_value_as_its_variable(name: str, tmp_path: Path) -> None:
    field = Settings.model_fields[name]
    option = dict((n, o) for n, _, o in options())[name]
    assert option.flag is not None
    if field.annotation is bool:
        flagged = from_flags(option.flag)
        assert getattr(flagged, name) is (not field.default)
        if option.env:
            assert getattr(Settings.from_env({option.env: str(not field.default)}), name) is (
                not field.default
            )
        return
    if name == "api_key_file":
        (tmp_path / "key").write_text("k3y\n")
        value = str(tmp_path / "key")
    else:
        value = SAMPLES[name]
    flagged = from_flags(option.flag, value)
    assert getattr(flagged, name) != field.default
    if option.env:
        assert getattr(Settings.from_env({option.env: value}), name) == getattr(flagged, name)


def test_flags_override_variables() -> None:
    settings = from_flags("--tools", "core", env={"SHARKFIN_TOOLS": "all", "SHARKFIN_LOG_LEVEL": "error"})
    assert settings.tool_profile == "core" and settings.log_level == "ERROR"


@pytest.mark.parametrize("level", ["debug", "Info", "WARNING", "error", " warning "])
def test_log_levels_are_case_insensitive(level: str) -> None:
    assert Settings.from_env({"SHARKFIN_LOG_LEVEL": level}).log_level == level.strip().upper()
    assert from_flags("--log-level", level).log_level == level.strip().upper()


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SHARKFIN_EVENT_BUFFER": "lots"}, "SHARKFIN_EVENT_BUFFER / --event-buffer must be a whole number"),
        ({"SHARKFIN_EVENT_BUFFER": "3"}, "greater than or equal to 10"),
        ({"SHARKFIN_TOOLS": "most"}, "SHARKFIN_TOOLS / --tools must be all or core, optionally"),
        ({"SHARKFIN_LOG_LEVEL": "loud"}, "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"SHARKFIN_PRESENCE": "maybe"}, "SHARKFIN_PRESENCE / --no-presence must be true or false"),
        ({"SHARKFIN_REQUEST_TIMEOUT": "-1"}, "greater than 0"),
        ({"SHARKFIN_URL": "127.0.0.1:16000"}, "has no ws://, wss://, http:// or https:// scheme"),
    ],
)
def test_every_refusal_is_one_line_naming_the_setting(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert says in str(refused.value)
    assert "\n" not in str(refused.value) and "pydantic" not in str(refused.value)


def test_every_choice_field_is_a_literal() -> None:
    assert {name for name, field in Settings.model_fields.items() if choices_of(field)} == {
        "log_level",
        "stdio_transport",
        "tool_profile",
        "transport",
    }


# -- URLs ------------------------------------------------------------------------------------------

VALID_URLS = [
    ("ws://127.0.0.1:16000/ws", "ws://127.0.0.1:16000/ws"),
    ("ws://127.0.0.1:16000/ws/", "ws://127.0.0.1:16000/ws"),
    ("ws://127.0.0.1:16000", "ws://127.0.0.1:16000/ws"),
    ("ws://127.0.0.1:16000/", "ws://127.0.0.1:16000/ws"),
    ("http://127.0.0.1:16000", "ws://127.0.0.1:16000/ws"),
    ("http://127.0.0.1:16000/", "ws://127.0.0.1:16000/ws"),
    ("  HTTPS://Sf.Example:443/ ", "wss://sf.example:443/ws"),
    ("wss://sf.example/ws", "wss://sf.example/ws"),
    ("ws://[::1]:16000/ws", "ws://[::1]:16000/ws"),
]
INVALID_URLS = [
    "127.0.0.1:16000",
    "localhost:16000/ws",
    "ftp://h:1/ws",
    "ws://h:1/api/v1",
    "http://h:1/api/v1/channels",
    "http://h:1/ws",
    "ws://h:1/ws/ws",
    "ws://h:1/ws?notifications_only=true",
    "ws://user:pw@h:1/ws",
    "ws://h:99999/ws",
    "ws:///ws",
    "",
]


@pytest.mark.parametrize(("given_url", "canonical"), VALID_URLS)
def test_valid_urls_are_normalised(given_url: str, canonical: str) -> None:
    assert Settings.from_env({"SHARKFIN_URL": given_url}).url == canonical


@pytest.mark.parametrize("bad", [u for u in INVALID_URLS if u])
def test_invalid_urls_are_refused_with_the_valid_forms(bad: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"SHARKFIN_URL": bad})
    message = str(refused.value)
    assert message.startswith("SHARKFIN_URL ") and "\n" not in message
    assert "use ws://host:port/ws or http://host:port" in message
    assert "pw" not in message


def test_an_empty_url_variable_means_the_default() -> None:
    assert Settings.from_env({"SHARKFIN_URL": ""}).url == "ws://127.0.0.1:16000/ws"


# -- keys --------------------------------------------------------------------------------------------

ODD_KEYS: list[tuple[str, str | None]] = [
    # (raw value, the key that should result, or None when it must be refused)
    ("\ufeffwf-key-123", "wf-key-123"),
    ("  wf-key-123\r\n", "wf-key-123"),
    ('wf-"quoted"-key', 'wf-"quoted"-key'),
    ("wf-'single'-key", "wf-'single'-key"),
    ("wf-key\r\nX-Evil: 1", None),
    ("wf-key\nsecond", None),
    ("wf-clé-123", None),
    ("wf key 123", None),
    ("wf-key\x00123", None),
    ("wf-key\u2028123", None),
]


def assert_refusal_hides(refused: pytest.ExceptionInfo[ConfigError], raw: str) -> None:
    message = str(refused.value)
    assert "\n" not in message and "\r" not in message
    for piece in (raw, raw.strip(), *[p for p in raw.replace("\r", "\n").split("\n") if len(p) >= 4]):
        assert piece.strip() not in message or not piece.strip(), message


@pytest.mark.parametrize(("raw", "expected"), ODD_KEYS)
def test_keys_from_the_environment_are_cleaned_or_refused(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError, match="cannot be sent in an HTTP header") as refused:
            Settings.from_env({"SHARKFIN_API_KEY": raw})
        assert_refusal_hides(refused, raw)
    else:
        settings = Settings.from_env({"SHARKFIN_API_KEY": raw})
        assert settings.api_key == expected and settings.api_key_source == "env:SHARKFIN_API_KEY"


@pytest.mark.parametrize(("raw", "expected"), ODD_KEYS)
def test_key_files_are_cleaned_or_refused(raw: str, expected: str | None, tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(raw.encode("utf-8"))
    env = {"SHARKFIN_API_KEY_FILE": str(path)}
    if expected is None:
        with pytest.raises(ConfigError) as refused:
            Settings.from_env(env)
        assert_refusal_hides(refused, raw)
        assert str(path) in str(refused.value)
    else:
        assert Settings.from_env(env).api_key == expected


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("wf-key-123".encode("utf-16"), "is not UTF-8 text"),
        ("wf-kéy".encode("latin-1"), "is not UTF-8 text"),
        (b"wf-key-123\nwf-key-456\n", "more than one line"),
        (b"\xef\xbb\xbf\r\n", "is empty"),
    ],
)
def test_key_files_that_are_not_one_line_of_utf8_are_refused(
    content: bytes, says: str, tmp_path: Path
) -> None:
    path = tmp_path / "key"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=says) as refused:
        Settings.from_env({"SHARKFIN_API_KEY_FILE": str(path)})
    assert "wf-key" not in str(refused.value)


@settings(max_examples=300, deadline=None)
@given(key=st.text(min_size=6, max_size=40))
def test_any_key_is_either_header_safe_or_refused_without_being_shown(key: str) -> None:
    try:
        cleaned = Settings.from_env({"SHARKFIN_API_KEY": key}).api_key
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message
        core = key.strip(" \t\r\n\v\f\ufeff\u200b\u00a0")
        if len(core) >= 6:
            assert core not in message
        return
    if cleaned is None:
        assert not key.strip(" \t\r\n\v\f\ufeff\u200b\u00a0")
        return
    assert all("!" <= c <= "~" for c in cleaned)
    assert cleaned in key


def test_http_token_is_checked_like_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SHARKFIN_MCP_TOKEN has a line break") as refused:
        Settings.from_env({"SHARKFIN_MCP_TOKEN": "tok-\n-secret"})
    assert "secret" not in str(refused.value)
    (tmp_path / "t").write_text("\ufefftok-value\n", encoding="utf-8")
    assert Settings.from_env({"SHARKFIN_MCP_TOKEN_FILE": str(tmp_path / "t")}).http_token == "tok-value"


def test_direct_construction_reads_no_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("SHARKFIN_TOOLS", "core")
    assert Settings().tool_profile == "all"
    assert Settings.from_env().tool_profile == "core"
