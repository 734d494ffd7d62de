"""Ready-to-paste, pinned configuration for MCP clients (``sharkfin-mcp config <client>``).

Pinned because an unpinned ``uvx sharkfin-mcp`` re-resolves on every launch; an absolute ``uvx``
path because Claude Desktop on macOS does not inherit the shell's PATH (``spawn uvx ENOENT``).
The key is never printed: a placeholder, or the key file's path when one is configured.

``source`` says what uvx runs: the release pinned on PyPI (the default, and what the manifests
ship), or the Git source while this version is not published (``_install.install_source``
decides for ``config``). Shell words are quoted for the platform's shell.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping

from ._install import InstallSource, pinned_source

__all__ = ["CLIENTS", "claude_desktop_config_dir", "snippet", "where"]

CLIENTS = ("claude-desktop", "claude-code", "cursor", "vscode", "generic")
KEY_PLACEHOLDER = "<your Sharkfin API key>"


def _env(env: Mapping[str, str]) -> dict[str, str]:
    out = {"SHARKFIN_URL": env.get("SHARKFIN_URL") or "ws://127.0.0.1:16000/ws"}
    if env.get("SHARKFIN_API_KEY_FILE"):
        out["SHARKFIN_API_KEY_FILE"] = os.path.abspath(env["SHARKFIN_API_KEY_FILE"])
    else:
        out["SHARKFIN_API_KEY"] = KEY_PLACEHOLDER
    return out


def _quote(word: str, platform: str) -> str:
    if platform == "win32":
        return subprocess.list2cmdline([word])  # double quotes: cmd.exe and PowerShell
    return shlex.quote(word)


def snippet(
    client: str,
    env: Mapping[str, str] | None = None,
    uvx: str | None = None,
    source: InstallSource | None = None,
    platform: str | None = None,
) -> str:
    """The configuration text for ``client`` (one of CLIENTS); ValueError for another name."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    uvx = uvx or shutil.which("uvx") or "uvx"
    args = list((source or pinned_source()).uvx_args)
    server_env = _env(env)
    if client == "claude-code":
        flags = " ".join(f"-e {k}={_quote(v, platform)}" for k, v in server_env.items())
        command = " ".join(_quote(word, platform) for word in (uvx, *args))
        return f"claude mcp add sharkfin {flags} -- {command}"
    entry = {"command": uvx, "args": args, "env": server_env}
    if client == "vscode":
        return json.dumps({"servers": {"sharkfin": {"type": "stdio", **entry}}}, indent=2)
    if client in ("claude-desktop", "cursor", "generic"):
        return json.dumps({"mcpServers": {"sharkfin": entry}}, indent=2)
    raise ValueError(f"unknown client {client!r}; choose one of: {', '.join(CLIENTS)}")


MSIX_PACKAGE = "Claude_pzs8sxrjxfjjc"


def claude_desktop_config_dir(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """The folder whose claude_desktop_config.json Claude Desktop reads on this machine, or None
    where it cannot be known (Linux). On Windows, the MSIX build (every install since early 2026,
    Store or not) reads ``%LOCALAPPDATA%\\Packages\\Claude_<id>\\LocalCache\\Roaming\\Claude``, and a
    file in ``%APPDATA%\\Claude`` is silently ignored; older (Squirrel) installs read the latter."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    if platform == "darwin":
        return os.path.join(
            env.get("HOME") or os.path.expanduser("~"), "Library", "Application Support", "Claude"
        )
    if platform != "win32":
        return None
    local = env.get("LOCALAPPDATA", "")
    if local:
        packages = sorted(glob.glob(os.path.join(glob.escape(local), "Packages", "Claude_*")))
        preferred = [p for p in packages if os.path.basename(p) == MSIX_PACKAGE] or packages
        if preferred:
            return os.path.join(preferred[0], "LocalCache", "Roaming", "Claude")
    roaming = env.get("APPDATA", "")
    return os.path.join(roaming, "Claude") if roaming else None


def where(client: str, env: Mapping[str, str] | None = None, platform: str | None = None) -> str:
    """Where to put the snippet, for people (``config`` prints it on stderr)."""
    if client == "claude-desktop":
        folder = claude_desktop_config_dir(env, platform)
        if folder:
            return f"Paste into {os.path.join(folder, 'claude_desktop_config.json')}; then restart Claude."
    return WHERE[client]


WHERE = {
    "claude-desktop": (
        "Paste into claude_desktop_config.json — macOS: ~/Library/Application Support/Claude/; "
        f"Windows: %LOCALAPPDATA%\\Packages\\{MSIX_PACKAGE}\\LocalCache\\Roaming\\Claude\\ (current "
        "installs, Store or not), or %APPDATA%\\Claude\\ for installs from before 2026; then restart Claude."
    ),
    "claude-code": "Run this in your shell (add --scope user to make it available in every project).",
    "cursor": "Paste into ~/.cursor/mcp.json (or .cursor/mcp.json in a project).",
    "vscode": "Paste into .vscode/mcp.json.",
    "generic": "The usual mcpServers shape; most MCP clients accept it.",
}
