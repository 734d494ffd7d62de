"""``sharkfin-mcp``: serve MCP over stdio (default) or streamable HTTP, or run the sandbox.

Nothing but the MCP protocol may reach stdout in stdio mode, so every message for people goes
through logging on stderr; only ``--version`` and ``--help`` print (and exit before serving).
"""

from __future__ import annotations

import argparse
import logging
import sys

from ._version import __version__

ENV_HELP = """\
environment:
  SHARKFIN_URL             daemon address, ws://host:port/ws or http://host:port
                           (default ws://127.0.0.1:16000/ws)
  SHARKFIN_API_KEY         API key of the identity to act as (never pass it as a flag)
  SHARKFIN_API_KEY_FILE    file holding the API key (same as --api-key-file)
  SHARKFIN_PRESENCE        hold the /presence socket so you show online (default true)
  SHARKFIN_EVENT_BUFFER    events kept for poll/wait (default 5000)
  SHARKFIN_REQUEST_TIMEOUT seconds before a daemon request fails (default 30)
  SHARKFIN_EXCLUDE_OWN     leave your own messages out of wait_for_messages (default true)
  SHARKFIN_LOG_LEVEL       DEBUG, INFO, WARNING or ERROR (default INFO; logs go to stderr)
  SHARKFIN_READ_ONLY       expose only tools that change nothing (default false)
  SHARKFIN_TOOLS           tool profile: all, or core (the conversation tools only)
  SHARKFIN_SEND_CHANNELS   channels the agent may send to: "general,ops-*,!secret" (default all)
  SHARKFIN_MAX_SENDS_PER_MINUTE  send rate limit that stops runaway loops (default 60; 0 = off)
  SHARKFIN_ALLOW_INSECURE  allow sending the key over ws:// or http:// to another host
  SHARKFIN_MCP_TOKEN       access token HTTP clients must send as Authorization: Bearer
                           (required to serve HTTP on a non-loopback address)
  SHARKFIN_MCP_TOKEN_FILE  file holding that token
  SHARKFIN_CHANNEL         push DMs and mentions into Claude Code (default false; same as --channel)
  SHARKFIN_CHANNEL_CHANNELS      channels whose every message is pushed too: "general,ops"
  SHARKFIN_CHANNEL_BURST         most pushes in any window (default 5); the rest become one summary
  SHARKFIN_CHANNEL_BURST_SECONDS that window, in seconds (default 30)
  SHARKFIN_CHANNEL_PERMISSION    relay Claude Code's tool-approval prompts to approvers by DM
  SHARKFIN_CHANNEL_APPROVERS     usernames allowed to answer them: "alice,bob"

commands:
  sharkfin-mcp doctor           check the configuration, the daemon, the key and the role
  sharkfin-mcp config CLIENT    print a pinned snippet for claude-desktop, claude-code, cursor,
                                vscode or generic
  sharkfin-mcp sandbox --help   run a standalone Sharkfin-compatible sandbox daemon
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharkfin-mcp",
        description="MCP server for the Sharkfin messaging daemon (stdio by default).",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sharkfin-mcp {__version__}")
    parser.add_argument("--url", help="daemon address (overrides SHARKFIN_URL)")
    parser.add_argument("--api-key-file", help="read the API key from this file")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="start an embedded sandbox daemon with demo identities and act as one of them",
    )
    parser.add_argument(
        "--sandbox-as", dest="sandbox_identity", default=None, help="demo identity to act as (default agent)"
    )
    parser.add_argument(
        "--no-presence", dest="presence", action="store_false", default=None, help="do not show as online"
    )
    parser.add_argument("--event-buffer", type=int, help="events kept for poll/wait (default 5000)")
    parser.add_argument("--request-timeout", type=float, help="seconds per daemon request (default 30)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="stderr log level")
    parser.add_argument(
        "--read-only", action="store_true", default=None, help="only tools that change nothing"
    )
    parser.add_argument("--tools", dest="tool_profile", choices=["all", "core"], help="tool profile")
    parser.add_argument("--send-channels", help='channels the agent may send to, e.g. "general,!secret"')
    parser.add_argument("--max-sends-per-minute", type=int, help="send rate limit (0 = off)")
    parser.add_argument(
        "--allow-insecure",
        action="store_true",
        default=None,
        help="allow a clear-text ws:// or http:// daemon URL on another host",
    )
    parser.add_argument(
        "--channel",
        dest="channel_push",
        action="store_true",
        default=None,
        help="push DMs and mentions into Claude Code as channel notifications (SHARKFIN_CHANNEL)",
    )
    parser.add_argument(
        "--transport", choices=["stdio", "http"], default="stdio", help="MCP transport (default stdio)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["sandbox"]:
        from .sandbox._cli import main as sandbox_main

        return sandbox_main(args_list[1:])
    if args_list[:1] == ["doctor"]:
        import anyio

        from ._doctor import run_doctor

        return anyio.run(run_doctor)
    if args_list[:1] == ["config"]:
        from ._snippets import CLIENTS, WHERE, snippet

        if len(args_list) != 2 or args_list[1] not in CLIENTS:
            sys.stderr.write(f"usage: sharkfin-mcp config {{{','.join(CLIENTS)}}}\n")
            return 2
        sys.stderr.write(WHERE[args_list[1]] + "\n")
        sys.stdout.write(snippet(args_list[1]) + "\n")  # stdout-ok: a command for people
        return 0
    args = _parser().parse_args(args_list)

    from .server import ConfigError, Settings

    try:
        # Every flag's dest is a Settings field (or api_key_file); unset flags are None.
        settings = Settings.from_env(**vars(args))
    except ConfigError as exc:
        print(f"sharkfin-mcp: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    import anyio

    from .server._serve import serve

    anyio.run(serve, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
