"""The README documents what the code does: the catalogue table, the configuration, the commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sharkfin_mcp.server._catalog import BEGIN, END, catalog_markdown
from sharkfin_mcp.server._sections import replace_section

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.anyio


async def test_catalog_table_matches_live_server() -> None:
    documented = README.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    live = (await catalog_markdown()).strip()
    assert documented == live, (
        "README is stale: run "
        "`uv run python -m sharkfin_mcp.server._catalog --write README.md manifests/manifest.json`"
    )


def test_every_environment_variable_is_documented() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "sharkfin_mcp.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    in_help = set(re.findall(r"SHARKFIN_[A-Z_]+", help_text))
    in_readme = set(re.findall(r"SHARKFIN_[A-Z_]+", README))
    assert len(in_help) >= 14
    missing = {v for v in in_help if v not in in_readme and v + "_FILE" not in in_readme}
    assert not missing, f"undocumented in README: {sorted(missing)}"


def test_quick_start_has_the_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^uv run [^\n#]+", section, flags=re.M)
    assert [c.strip() for c in commands] == ["uv run sharkfin-mcp --sandbox", "uv run --extra dev pytest"]
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nuv run --extra dev pytest\n" in ci, "CI must run exactly the README's test command"


def test_readme_carries_the_registry_marker() -> None:
    assert re.search(r"mcp-name: io\.github\.[\w-]+/sharkfin-mcp", README)


def test_configuration_table_is_generated_from_the_settings_declaration() -> None:
    from sharkfin_mcp.server._config import BEGIN as CONFIG_BEGIN
    from sharkfin_mcp.server._config import END as CONFIG_END
    from sharkfin_mcp.server._config import config_markdown

    documented = README.split(CONFIG_BEGIN, 1)[1].split(CONFIG_END, 1)[0].strip()
    assert documented == config_markdown().strip(), (
        "README is stale: run `uv run python -m sharkfin_mcp.server._config --write README.md`"
    )


KEY_FILES = {"utf16-key.txt": "wf-key-123".encode("utf-16"), "two-keys.txt": b"wf-key-123\nwf-key-456\n"}


def test_troubleshooting_lists_the_real_configuration_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each documented ``settings → message`` line is run through ``cli.main`` and must print
    exactly that line (and exit 2)."""
    from sharkfin_mcp.cli import main

    section = README.split("<!-- config-errors:begin", 1)[1].split("<!-- config-errors:end", 1)[0]
    cases = re.findall(r"^- `([^`]+)`[^`\n]* → `(sharkfin-mcp: [^`]+)`$", section, flags=re.M)
    assert len(cases) >= 8, section
    for name, content in KEY_FILES.items():
        (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    for given, message in cases:
        for variable in [v for v in os.environ if v.startswith("SHARKFIN_")]:
            monkeypatch.delenv(variable)
        argv = []
        for word in given.split():
            if re.match(r"SHARKFIN_[A-Z_]+=", word):
                monkeypatch.setenv(*word.split("=", 1))
            else:
                argv.append(word)
        capsys.readouterr()
        assert main(argv) == 2, given
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == message + "\n", f"README differs from the real message for {given}"


def test_generated_sections_are_replaced_between_their_markers_only() -> None:
    doc = "intro\n<!-- b -->\nold\n<!-- e -->\noutro\n"
    replaced = replace_section(doc, "<!-- b -->", "<!-- e -->", "new")
    assert replaced == "intro\n<!-- b -->\nnew\n<!-- e -->\noutro\n"
    for broken in ("intro <!-- b --> old", "old <!-- e --> outro", "nothing"):
        with pytest.raises(ValueError, match="markers"):
            replace_section(broken, "<!-- b -->", "<!-- e -->", "new")
