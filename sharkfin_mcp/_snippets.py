"""Ready-to-paste, pinned configuration for MCP clients (``sharkfin-mcp config <client>``).

Pinned because an unpinned ``uvx sharkfin-mcp`` re-resolves on every launch; an absolute ``uvx``
path because Claude Desktop on macOS does not inherit the shell's PATH (``spawn uvx ENOENT``).
The key is never printed: a placeholder, or the key file's path when one is configured.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping

from ._version import __version__

__all__ = ["CLIENTS", "snippet"]

CLIENTS = ("claude-desktop", "claude-code", "cursor", "vscode", "generic")
KEY_PLACEHOLDER = "<your Sharkfin API key>"


def _env(env: Mapping[str, str]) -> dict[str, str]:
    out = {"SHARKFIN_URL": env.get("SHARKFIN_URL") or "ws://127.0.0.1:16000/ws"}
    if env.get("SHARKFIN_API_KEY_FILE"):
        out["SHARKFIN_API_KEY_FILE"] = os.path.abspath(env["SHARKFIN_API_KEY_FILE"])
    else:
        out["SHARKFIN_API_KEY"] = KEY_PLACEHOLDER
    return out


def snippet(client: str, env: Mapping[str, str] | None = None, uvx: str | None = None) -> str:
    env = os.environ if env is None else env
    uvx = uvx or shutil.which("uvx") or "uvx"
    package = f"sharkfin-mcp@{__version__}"
    server_env = _env(env)
    if client == "claude-code":
        flags = " ".join(f"-e {k}={v!r}" if " " in v else f"-e {k}={v}" for k, v in server_env.items())
        return f"claude mcp add sharkfin {flags} -- {uvx} {package}"
    entry = {"command": uvx, "args": [package], "env": server_env}
    if client == "vscode":
        return json.dumps({"servers": {"sharkfin": {"type": "stdio", **entry}}}, indent=2)
    if client in ("claude-desktop", "cursor", "generic"):
        return json.dumps({"mcpServers": {"sharkfin": entry}}, indent=2)
    raise ValueError(f"unknown client {client!r}; choose one of: {', '.join(CLIENTS)}")


WHERE = {
    "claude-desktop": (
        "Paste into claude_desktop_config.json — macOS: ~/Library/Application Support/Claude/; "
        "Windows: %APPDATA%\\Claude\\ (or, for the Microsoft Store build, "
        "%LOCALAPPDATA%\\Packages\\Claude_pzs8sxrjxfjjc\\LocalCache\\Roaming\\Claude\\); then restart Claude."
    ),
    "claude-code": "Run this in your shell (add --scope user to make it available in every project).",
    "cursor": "Paste into ~/.cursor/mcp.json (or .cursor/mcp.json in a project).",
    "vscode": "Paste into .vscode/mcp.json.",
    "generic": "The usual mcpServers shape; most MCP clients accept it.",
}
