"""``sharkfin-mcp``: serve MCP over stdio (default) or streamable HTTP, or run the sandbox.

Nothing but the MCP protocol may reach stdout in stdio mode, so every message for people goes
through logging on stderr; only ``--version`` and ``--help`` print (and exit before serving).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:  # the settings are imported late: `sharkfin-mcp sandbox` never needs them
    from pydantic.fields import FieldInfo

    from .server._config import Option

COMMANDS = """\
commands:
  sharkfin-mcp doctor [FLAGS]   check the configuration, the daemon, the key and the role
  sharkfin-mcp config CLIENT    print a pinned snippet for claude-desktop, claude-code, cursor,
                                vscode or generic
  sharkfin-mcp sandbox --help   run a standalone Sharkfin-compatible sandbox daemon
"""


def _plain(text: str | None) -> str:
    return (text or "").replace("`", "")


def _described(field: FieldInfo, option: Option) -> str:
    """A setting's description in plain text, with its default unless it has none (``—``)."""
    from .server._config import shown_default

    default = _plain(shown_default(field, option))
    return _plain(field.description) + ("" if default == "—" else f" (default {default})")


def _epilog() -> str:
    """The environment variables (from the Settings declaration) and the sub-commands."""
    from .server._config import options

    environment = ["environment (flags override them):"]
    for _, field, option in options():
        if option.env:
            environment.append(f"  {option.env:<31} {_described(field, option)}")
    return "\n".join(environment) + "\n\n" + COMMANDS


def _parser() -> argparse.ArgumentParser:
    """Every flag, its help and its default come from the Settings declaration (server/_config)."""
    from .server._config import choices_of, options

    parser = argparse.ArgumentParser(
        prog="sharkfin-mcp",
        description="MCP server for the Sharkfin messaging daemon (stdio by default).",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sharkfin-mcp {__version__}")
    for name, field, option in options():
        if not option.flag:
            continue
        help_text = _described(field, option)
        if field.annotation is bool and field.default:
            help_text = f"turn off: {help_text}"
        if option.env:
            help_text += f"; overrides {option.env}"
        if field.annotation is bool:
            # A flag switches a boolean away from its default; unset flags stay None (env decides).
            action = "store_false" if field.default else "store_true"
            parser.add_argument(option.flag, dest=name, action=action, default=None, help=help_text)
            continue
        choices = choices_of(field)
        metavar = "{" + "|".join(choices) + "}" if choices else None  # a choice may hold a comma
        # Values stay text: Settings validates them, so a flag and its variable fail alike.
        parser.add_argument(option.flag, dest=name, metavar=metavar, default=None, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["sandbox"]:
        from .sandbox._cli import main as sandbox_main

        return sandbox_main(args_list[1:])
    if args_list[:1] == ["doctor"]:
        import functools

        import anyio

        from ._doctor import run_doctor

        # The server's own flags, so that doctor checks exactly what the server would run with.
        flags = vars(_parser().parse_args(args_list[1:]))
        return anyio.run(functools.partial(run_doctor, flags=flags))
    if args_list[:1] == ["config"]:
        from ._install import install_source
        from ._snippets import CLIENTS, snippet, where

        if len(args_list) != 2 or args_list[1] not in CLIENTS:
            sys.stderr.write(f"usage: sharkfin-mcp config {{{','.join(CLIENTS)}}}\n")
            return 2
        source = install_source()  # pinned when this version is on PyPI, else the Git source
        sys.stderr.write(f"{where(args_list[1])}\nNote: {source.note}.\n")
        sys.stdout.write(snippet(args_list[1], source=source) + "\n")  # stdout-ok: a command for people
        return 0
    args = _parser().parse_args(args_list)

    from .server import ConfigError, Settings

    try:
        # Every flag's dest is a Settings field; unset flags are None.
        settings = Settings.from_env(**vars(args))
    except ConfigError as exc:
        sys.stderr.write(f"sharkfin-mcp: {exc}\n")
        return 2
    from .server._logs import configure_logging

    configure_logging(settings.log_level)
    import anyio

    from .server._serve import ListenError, serve

    try:
        anyio.run(serve, settings)
    except ListenError as exc:
        sys.stderr.write(f"sharkfin-mcp: {exc}\n")
        return 1
    # Served and closed (the daemon sockets are shut): skip the interpreter's teardown, tens of
    # milliseconds of a client's 100 ms shutdown budget.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
