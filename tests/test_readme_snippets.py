"""Every snippet in the README works: the client example, the client configs, doctor, the
standalone sandbox and the version pins."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path

import anyio
import pytest

from sharkfin_mcp._install import InstallSource, git_source, pinned_source
from sharkfin_mcp._snippets import snippet
from sharkfin_mcp._version import __version__
from sharkfin_mcp.client import SharkfinClient
from sharkfin_mcp.sandbox import Sandbox

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
pytestmark = pytest.mark.anyio


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_every_pinned_version_is_the_package_version() -> None:
    pins = set(re.findall(r"sharkfin-mcp@(\d+\.\d+\.\d+)", README))
    pins |= set(re.findall(r"sharkfin-mcp:(\d+\.\d+\.\d+)", README))
    assert pins == {__version__}


def documented_source() -> InstallSource:
    """The README shows the Git source until the first release is on PyPI, then the pinned one
    (`config` prints the same choice: tests/test_install_source.py)."""
    args = json.loads(blocks("json")[0])["mcpServers"]["sharkfin"]["args"]
    return git_source() if args[:1] == ["--from"] else pinned_source()


def test_claude_desktop_block_is_what_config_prints() -> None:
    documented = json.loads(blocks("json")[0])
    uvx = documented["mcpServers"]["sharkfin"]["command"]
    assert json.loads(snippet("claude-desktop", env={}, uvx=uvx, source=documented_source())) == documented


def test_claude_code_line_is_what_config_prints() -> None:
    line = next(line for line in README.splitlines() if line.startswith("claude mcp add"))
    assert line == snippet("claude-code", env={}, uvx="uvx", source=documented_source(), platform="linux")


def test_every_git_install_in_the_readme_is_the_repository() -> None:
    sources = set(re.findall(r"git\+(https://\S+?)[`\s\"]", README))
    assert sources == {"https://github.com/work-fort/sharkfin-mcp"}


async def test_python_client_example_runs(sandbox: Sandbox) -> None:
    example = next(b for b in blocks("python") if "SharkfinClient.connect" in b)
    code = example.replace("ws://127.0.0.1:16000/ws", sandbox.ws_url).replace(
        '"..."', repr(sandbox.key("agent"))
    )
    with anyio.fail_after(30):
        done = await anyio.run_process([sys.executable, "-c", code], check=False)
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "as expected: channel not found: no-such-channel" in out
    assert "general agent hello @bob" in out


async def test_doctor_passes_on_a_good_setup_and_fails_clearly_on_a_bad_key(sandbox: Sandbox) -> None:
    base = {**os.environ, "SHARKFIN_URL": sandbox.ws_url}
    good = await anyio.run_process(
        [sys.executable, "-m", "sharkfin_mcp.cli", "doctor"],
        env={**base, "SHARKFIN_API_KEY": sandbox.key("alice")},
        check=False,
    )
    report = good.stdout.decode()
    assert good.returncode == 0, report
    assert "[FAIL]" not in report and "acting as 'alice'" in report and "round trip" in report
    assert sandbox.key("alice") not in report + good.stderr.decode()

    bad = await anyio.run_process(
        [sys.executable, "-m", "sharkfin_mcp.cli", "doctor"],
        env={**base, "SHARKFIN_API_KEY": "not-a-real-key-42"},
        check=False,
    )
    assert bad.returncode == 1
    assert "[FAIL] API key accepted" in bad.stdout.decode()
    assert "not-a-real-key-42" not in bad.stdout.decode() + bad.stderr.decode()

    down = await anyio.run_process(
        [sys.executable, "-m", "sharkfin_mcp.cli", "doctor"],
        env={**base, "SHARKFIN_URL": "ws://127.0.0.1:9/ws", "SHARKFIN_API_KEY": "k"},
        check=False,
    )
    assert down.returncode == 1
    assert "127.0.0.1, not localhost" in down.stdout.decode()


async def test_standalone_sandbox_command_accepts_the_given_key() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "sharkfin_mcp.cli",
        "sandbox",
        "--port",
        str(port),
        "--key",
        "mykey=me:agent",
    ]
    async with await anyio.open_process(command) as process:
        try:
            with anyio.fail_after(15):
                while True:
                    try:
                        client = await SharkfinClient.connect(f"http://127.0.0.1:{port}", api_key="mykey")
                        break
                    except Exception:
                        await anyio.sleep(0.1)
            async with client:
                assert (await client.register()).username == "me"
        finally:
            process.terminate()
            await process.wait()
