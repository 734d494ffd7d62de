"""``sharkfin-mcp config`` prints what works on this machine: the release pinned from PyPI when
this version is published there, else the Git source with a note; ``doctor`` says which applies.

The index is a real HTTP server on loopback speaking the PEP 691 JSON simple API (the same API uv
uses), reached through ``SHARKFIN_PYPI_SIMPLE_URL``; its answers cover published, not published,
an index error and an unreachable index. Also: nothing asks the index at import time, the
Claude Desktop folder on each platform (the Windows MSIX path), and shell quoting.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharkfin_mcp import _install
from sharkfin_mcp._install import GIT_URL, git_source, install_source, pinned_source, published_on_index
from sharkfin_mcp._snippets import claude_desktop_config_dir, snippet
from sharkfin_mcp._version import __version__

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def index(status: int, versions: list[str]) -> Iterator[tuple[str, list[str]]]:
    """A simple-API index answering every project page with ``status`` and these versions."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = json.dumps(
                {
                    "meta": {"api-version": "1.1"},
                    "name": "sharkfin-mcp",
                    "versions": versions,
                    "files": [{"filename": f"sharkfin_mcp-{v}-py3-none-any.whl"} for v in versions],
                }
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple", requests
    finally:
        server.shutdown()
        server.server_close()


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/simple"


@pytest.mark.parametrize(
    ("status", "versions", "expected"),
    [
        (200, [__version__], "yes"),
        (200, ["0.0.1", "99.0.0"], "no"),
        (200, [], "no"),
        (404, [], "no"),
        (500, [__version__], "unknown"),
        (503, [], "unknown"),
    ],
)
def test_the_index_answer_decides(status: int, versions: list[str], expected: str) -> None:
    with index(status, versions) as (url, requests):
        assert published_on_index(__version__, {"SHARKFIN_PYPI_SIMPLE_URL": url}) == expected
        assert requests == ["/simple/sharkfin-mcp/"]


def test_an_unreachable_index_is_unknown_and_falls_back_to_git() -> None:
    env = {"SHARKFIN_PYPI_SIMPLE_URL": closed_url()}
    assert published_on_index(__version__, env) == "unknown"
    source = install_source(env)
    assert source.kind == "git" and "could not reach PyPI" in source.note


def test_a_checkout_asks_the_index() -> None:
    with index(200, [__version__]) as (url, _):
        assert install_source({"SHARKFIN_PYPI_SIMPLE_URL": url}) == pinned_source()
    with index(404, []) as (url, _):
        source = install_source({"SHARKFIN_PYPI_SIMPLE_URL": url})
    assert source == git_source(why=f"sharkfin-mcp {__version__} is not published on PyPI yet")
    assert source.uvx_args == ("--from", f"git+{GIT_URL}", "sharkfin-mcp")


def test_an_install_from_an_index_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_install, "_direct_url", lambda: None)  # PEP 610: no direct_url.json
    assert install_source({"SHARKFIN_PYPI_SIMPLE_URL": closed_url()}) == pinned_source()


def test_an_install_from_git_pins_its_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    record = {"url": GIT_URL, "vcs_info": {"vcs": "git", "commit_id": commit}}
    monkeypatch.setattr(_install, "_direct_url", lambda: record)
    with index(404, []) as (url, _):
        source = install_source({"SHARKFIN_PYPI_SIMPLE_URL": url})
    assert source.uvx_args == ("--from", f"git+{GIT_URL}@{commit}", "sharkfin-mcp")
    with index(200, [__version__]) as (url, _):
        assert install_source({"SHARKFIN_PYPI_SIMPLE_URL": url}) == pinned_source()


def run_cli(*args: str, index_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHARKFIN_PYPI_SIMPLE_URL": index_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sharkfin_mcp.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_config_prints_the_pinned_release_once_published_and_git_before() -> None:
    with index(200, [__version__]) as (url, _):
        published = run_cli("config", "claude-desktop", index_url=url)
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["mcpServers"]["sharkfin"]["args"] == [f"sharkfin-mcp@{__version__}"]
    assert "is published on PyPI" in published.stderr

    with index(404, []) as (url, _):
        unpublished = run_cli("config", "claude-code", index_url=url)
    assert unpublished.returncode == 0, unpublished.stderr
    assert unpublished.stdout.strip().endswith(f"--from git+{GIT_URL} sharkfin-mcp")
    assert "not published on PyPI yet" in unpublished.stderr


def test_doctor_says_which_install_applies() -> None:
    with index(404, []) as (url, _):
        report = run_cli("doctor", "--sandbox", index_url=url).stdout
    assert "[WARN] install: sharkfin-mcp" in report and "not published on PyPI yet" in report
    with index(200, [__version__]) as (url, _):
        report = run_cli("doctor", "--sandbox", index_url=url).stdout
    assert "[PASS] install: sharkfin-mcp" in report


def test_nothing_asks_the_index_at_import_time() -> None:
    with index(200, [__version__]) as (url, requests):
        code = "import sharkfin_mcp.cli, sharkfin_mcp._snippets, sharkfin_mcp._install, sharkfin_mcp._doctor"
        env = {**os.environ, "SHARKFIN_PYPI_SIMPLE_URL": url, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
        assert requests == []


# -- where Claude Desktop reads its config -------------------------------------------------------


def test_claude_desktop_folder_on_each_platform(tmp_path: Path) -> None:
    local, roaming = tmp_path / "Local", tmp_path / "Roaming"
    env = {"LOCALAPPDATA": str(local), "APPDATA": str(roaming), "HOME": str(tmp_path)}
    assert claude_desktop_config_dir(env, "win32") == str(roaming / "Claude")  # no MSIX package
    (local / "Packages" / "Claude_otherpublisher").mkdir(parents=True)
    assert claude_desktop_config_dir(env, "win32") == str(
        local / "Packages" / "Claude_otherpublisher" / "LocalCache" / "Roaming" / "Claude"
    )
    (local / "Packages" / "Claude_pzs8sxrjxfjjc").mkdir()
    assert claude_desktop_config_dir(env, "win32") == str(
        local / "Packages" / "Claude_pzs8sxrjxfjjc" / "LocalCache" / "Roaming" / "Claude"
    )
    assert claude_desktop_config_dir(env, "darwin") == str(
        tmp_path / "Library" / "Application Support" / "Claude"
    )
    assert claude_desktop_config_dir(env, "linux") is None


# -- quoting ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    uvx=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40),
    url=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40),
)
def test_the_claude_code_line_splits_back_into_the_same_words_in_a_posix_shell(uvx: str, url: str) -> None:
    line = snippet("claude-code", env={"SHARKFIN_URL": url}, uvx=uvx, source=git_source(), platform="linux")
    words = shlex.split(line)
    assert words[:3] == ["claude", "mcp", "add"]
    assert words[words.index("-e") + 1] == f"SHARKFIN_URL={url}"
    assert words[words.index("--") + 1 :] == [uvx, "--from", f"git+{GIT_URL}", "sharkfin-mcp"]


def test_windows_paths_with_spaces_are_double_quoted() -> None:
    uvx = r"C:\Program Files\uv\uvx.exe"
    line = snippet("claude-code", env={}, uvx=uvx, platform="win32")
    assert f'-- "{uvx}" sharkfin-mcp@{__version__}' in line
    assert '-e SHARKFIN_API_KEY="<your Sharkfin API key>"' in line
