"""``python -m sharkfin_mcp.sandbox`` / ``sharkfin-mcp sandbox``: run the sandbox standalone."""

from __future__ import annotations

import argparse
import sys

import anyio

from ._auth import Identity
from ._server import DEMO_IDENTITIES, Sandbox


def _identity(spec: str) -> Identity:
    key, sep, rest = spec.partition("=")
    if not sep or not key or not rest:
        raise argparse.ArgumentTypeError(f"expected KEY=USERNAME[:TYPE], got {spec!r}")
    username, _, type_ = rest.partition(":")
    return Identity(username=username, key=key, type=type_ or "user")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharkfin-mcp sandbox",
        description="Run an in-process fake Sharkfin daemon (HTTP + WebSocket) for trying things out.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=16000)
    parser.add_argument(
        "--key",
        dest="keys",
        action="append",
        type=_identity,
        metavar="KEY=USERNAME[:TYPE]",
        help="accept API key KEY for USERNAME (type user|agent|service); repeatable. As on the real "
        "daemon, an identity exists once it first connects, and the first to connect becomes admin. "
        "Default: the demo identities, created at start (agent is admin).",
    )
    parser.add_argument("--presence-timeout", type=float, default=20.0)
    return parser


async def _run(
    identities: tuple[Identity, ...], host: str, port: int, presence_timeout: float, provision: bool
) -> None:
    async with Sandbox(
        identities, host=host, port=port, presence_timeout=presence_timeout, provision=provision
    ) as sandbox:
        print(f"sharkfin sandbox listening on {sandbox.http_url} (ws: {sandbox.ws_url})", file=sys.stderr)
        for identity in identities:
            print(f"  {identity.username} ({identity.type}): {identity.key}", file=sys.stderr)
        await anyio.sleep_forever()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    identities = tuple(args.keys) if args.keys else DEMO_IDENTITIES
    try:
        anyio.run(_run, identities, args.host, args.port, args.presence_timeout, not args.keys)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    return 0
