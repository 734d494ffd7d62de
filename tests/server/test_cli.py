"""The ``sharkfin-mcp`` command line: --help documents every SHARKFIN_* variable the server
reads, --version prints the package version, and configuration errors exit before serving."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import sharkfin_mcp
from sharkfin_mcp._version import __version__

ROOT = Path(sharkfin_mcp.__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sharkfin_mcp.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=full_env,
        cwd=ROOT,
    )


def variables_read_by_the_server() -> set[str]:
    found: set[str] = set()
    for path in [*(ROOT / "sharkfin_mcp" / "server").glob("*.py"), ROOT / "sharkfin_mcp" / "cli.py"]:
        found |= set(re.findall(r"\bSHARKFIN_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8")))
    return found


def test_help_lists_every_sharkfin_variable() -> None:
    done = run("--help")
    assert done.returncode == 0, done.stderr
    variables = variables_read_by_the_server()
    assert {"SHARKFIN_URL", "SHARKFIN_API_KEY", "SHARKFIN_API_KEY_FILE", "SHARKFIN_LOG_LEVEL"} <= variables
    listed = set(re.findall(r"^\s+(SHARKFIN_[A-Z_]+)\s", done.stdout, flags=re.MULTILINE))
    assert variables <= listed, f"missing from --help: {sorted(variables - listed)}"
    for flag in ("--sandbox", "--url", "--api-key-file", "--version"):
        assert flag in done.stdout
    assert "--api-key " not in done.stdout  # the key is never a flag


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"sharkfin-mcp {__version__}"


def test_console_script_points_at_cli_main() -> None:
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("sharkfin-mcp") == "sharkfin_mcp.cli:main"


def test_config_error_exits_2_before_serving_with_nothing_on_stdout() -> None:
    done = run(env={"SHARKFIN_EVENT_BUFFER": "lots"})
    assert done.returncode == 2
    assert done.stdout == ""
    assert "SHARKFIN_EVENT_BUFFER" in done.stderr and "lots" in done.stderr


def test_missing_key_file_is_a_config_error() -> None:
    done = run("--api-key-file", "/nonexistent/key")
    assert done.returncode == 2 and done.stdout == ""
    assert "/nonexistent/key" in done.stderr
