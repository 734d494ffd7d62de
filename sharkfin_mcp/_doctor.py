"""``sharkfin-mcp doctor``: check a set-up end to end and say exactly what is wrong.

Each check prints as it finishes (so a slow daemon shows progress), with a remedy when it
fails. The API key is never printed; only where it came from.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TextIO

import httpx

from .client import (
    AuthenticationError,
    PresenceKeeper,
    SharkfinClient,
    SharkfinError,
    redact,
    rest_base_url,
)
from .server import ConfigError, Settings

__all__ = ["run_doctor"]


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failures = 0

    def line(self, ok: bool | None, title: str, detail: str = "") -> None:
        mark = {True: "PASS", False: "FAIL", None: "WARN"}[ok]
        self.failures += ok is False
        self.out.write(f"[{mark}] {title}{': ' + detail if detail else ''}\n")
        self.out.flush()

    async def check(self, title: str, probe: Callable[[], Awaitable[str]], remedy: str) -> bool:
        started = time.perf_counter()
        try:
            detail = await probe()
        except Exception as exc:
            self.line(False, title, f"{exc}\n       -> {remedy}")
            return False
        self.line(True, title, f"{detail} ({(time.perf_counter() - started) * 1000:.0f} ms)")
        return True


def _install_check() -> tuple[bool | None, str, str]:
    """Which install `config` prints: the pinned PyPI release (PASS) or the Git source (WARN)."""
    from ._install import install_source

    source = install_source()
    return (source.kind == "pypi" or None), "install", f"{source.note}; `sharkfin-mcp config` prints that"


async def run_doctor(
    settings: Settings | None = None, out: TextIO = sys.stdout, flags: Mapping[str, Any] | None = None
) -> int:
    """Check everything; 0 when all passed, 2 for a configuration the server would refuse to
    start with (the same check, ``Settings.from_env`` with the same ``flags``, and the same
    sentence), else 1."""
    report = Report(out)
    try:
        settings = settings or Settings.from_env(**(flags or {}))
    except ConfigError as exc:
        report.line(False, "configuration", str(exc))
        return 2
    import anyio

    if settings.sandbox:
        report.line(None, "configuration", "--sandbox needs no checks: it embeds its own daemon")
        report.line(*await anyio.to_thread.run_sync(_install_check))  # one HTTP request, 2 s at most
        return 0
    report.line(True, "configuration", f"url {settings.url}, key from {settings.api_key_source}")
    report.line(*await anyio.to_thread.run_sync(_install_check))
    if not settings.api_key:
        report.line(False, "API key", "none set -> set SHARKFIN_API_KEY or SHARKFIN_API_KEY_FILE")
        return 1
    if refusal := settings.cleartext_refusal():
        report.line(False, "transport security", refusal)
        return 1
    base = rest_base_url(settings.url)

    async def health() -> str:
        async with httpx.AsyncClient(timeout=5) as http:
            try:
                reply = await http.get(base + "/ui/health")
            except httpx.HTTPError as exc:
                raise SharkfinError(redact(f"cannot reach {base}: {exc}")) from None
        if reply.status_code != 200:
            raise SharkfinError(
                f"{base}/ui/health answered HTTP {reply.status_code}: something listens there, but "
                "not a Sharkfin daemon (wrong host or port in SHARKFIN_URL?)"
            )
        try:
            name = reply.json().get("name", "?")
        except ValueError:
            raise SharkfinError(f"{base}/ui/health did not answer as a Sharkfin daemon") from None
        return f"{name} is up at {base}"

    if not await report.check(
        "daemon reachable",
        health,
        "start the daemon (sharkfin daemon ...) and check SHARKFIN_URL; use 127.0.0.1, not "
        "localhost: the daemon listens on IPv4 only",
    ):
        return 1

    client = SharkfinClient(settings.url, api_key=settings.api_key, request_timeout=10)
    identity: dict[str, Any] = {}
    try:

        async def register() -> str:
            who = await client.register()
            identity.update(username=who.username, role=who.role, type=who.type)
            return f"acting as {who.username!r} (type {who.type or '-'}, role {who.role or '-'})"

        if not await report.check(
            "API key accepted",
            register,
            "the key was rejected: check it, and that it is sent for this daemon",
        ):
            return 1

        async def websocket() -> str:
            await client.open()
            return f"/ws open, daemon version {await client.version()}"

        if not await report.check("WebSocket /ws", websocket, "check proxies and that /ws is reachable"):
            return 1

        async def permissions() -> str:
            perms = await client.capabilities()
            if not perms:
                raise SharkfinError(f"role {identity.get('role')!r} grants no permissions")
            missing = {"send_message", "history", "unread_messages"} - set(perms)
            note = f"; missing {', '.join(sorted(missing))}" if missing else ""
            return f"{len(perms)} permissions: {', '.join(perms)}{note}"

        await report.check(
            "role permissions",
            permissions,
            f"ask a Sharkfin admin: sharkfin admin set-role {identity.get('username', '<user>')} user",
        )

        async def round_trip() -> str:
            started = time.perf_counter()
            await client.ping()
            return f"ping {1000 * (time.perf_counter() - started):.1f} ms"

        await report.check("round trip", round_trip, "the daemon accepted the socket but did not answer")

        async def presence() -> str:
            keeper = PresenceKeeper(settings.url, api_key=settings.api_key)
            keeper.start()
            try:
                for _ in range(50):
                    if keeper.online:
                        return "/presence open (you show as online)"
                    import anyio

                    await anyio.sleep(0.1)
            finally:
                await keeper.close()
            raise SharkfinError("/presence did not open within 5 s")

        await report.check("presence socket", presence, "check that /presence is reachable")
    except AuthenticationError as exc:
        report.line(False, "API key", str(exc))
    finally:
        await client.close()
    report.line(report.failures == 0, "summary", "all checks passed" if not report.failures else "see above")
    return 0 if report.failures == 0 else 1
