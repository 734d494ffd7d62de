"""Everything the release workflow does except uploading, with a check of every output.

    uv run python -m scripts.release_dry_run [--out dist] [--tag v0.1.0] [--published-schema]

1. version: ``sharkfin_mcp/_version.py`` is the one source; the tag (if given) and the manifests
   must match it (scripts/release_version.py).
2. ``uv build``: one sdist and one wheel. The wheel holds only the package and its dist-info (no
   tests, caches or tooling), the license, and complete metadata (name, version, summary, license
   expression and file, Python requirement, every dependency, the README as Markdown with its
   ``mcp-name:`` line, the console script). The sdist holds the sources, tests and license, and no
   caches.
3. ``uvx --from <wheel> sharkfin-mcp --version`` runs the console script from the built wheel.
4. MCPB: ``mcpb validate`` and ``mcpb pack`` with the official ``@anthropic-ai/mcpb`` (npm, via
   scripts/node_tools.py), then the packed bundle's contents and manifest are checked.
5. ``server.json`` for the registry: the committed entry plus the bundle as an ``mcpb`` package
   (its GitHub release URL and ``fileSha256``), validated by ``check-jsonschema`` against
   scripts/server.known-fields.schema.json, and with ``--published-schema`` against the registry's
   published schema at its ``$schema`` URL (the release workflow does this; no package registry
   ships that file, so offline runs cannot).
6. The OCI image: built and run when a Docker engine is present; otherwise reported as skipped
   (the release workflow builds it for amd64 and arm64).

Outputs go to ``--out`` (default ``dist/``): ``python/`` (sdist, wheel), ``mcpb/`` (the bundle),
``registry/server.json``. Prints one ``[PASS]``/``[FAIL]``/``[SKIP]`` line per check and exits 1
if any failed. The release workflow runs this same script to produce what it publishes.
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.node_tools import NodeToolsError, install
from scripts.release_version import package_version, problems

ROOT = Path(__file__).resolve().parent.parent
KNOWN_FIELDS_SCHEMA = Path(__file__).resolve().parent / "server.known-fields.schema.json"
CHECK_JSONSCHEMA = "check-jsonschema==0.39.0"
BUNDLE_FILES = {"manifest.json", "sharkfin_mcp/cli.py", "LICENSE", "README.md"}
# Never in a published artifact: tests, caches, virtualenvs, tooling.
FORBIDDEN = re.compile(
    r"(^|/)(tests|benchmarks|scripts|\.ci|\.venv|venv|node_modules|__pycache__|\.pytest_cache|"
    r"\.mypy_cache|\.ruff_cache|\.hypothesis|\.import_linter_cache|\.git|dist|build)(/|$)|\.pyc$"
)


class Failed(Exception):
    """A check failed; the message says what is wrong."""


def run(command: list[str], *, cwd: Path = ROOT, timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise Failed(f"{' '.join(command[:3])} ... exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the checks on each output (pure functions of a file, so the tests can feed them bad ones) --


def check_wheel(wheel: Path, version: str) -> str:
    """Raises Failed unless the wheel is clean, licensed and has complete metadata."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dist_info = f"sharkfin_mcp-{version}.dist-info"
    if wheel.name != f"sharkfin_mcp-{version}-py3-none-any.whl":
        raise Failed(f"unexpected wheel name {wheel.name}")
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        stray = [n for n in names if FORBIDDEN.search(n) or not n.startswith(("sharkfin_mcp/", dist_info))]
        if stray:
            raise Failed(f"the wheel holds files it must not: {stray[:10]}")
        for required in ("sharkfin_mcp/py.typed", "sharkfin_mcp/cli.py", f"{dist_info}/licenses/LICENSE"):
            if required not in names:
                raise Failed(f"the wheel lacks {required}")
        metadata = email.parser.Parser().parsestr(whl.read(f"{dist_info}/METADATA").decode())
        entry_points = whl.read(f"{dist_info}/entry_points.txt").decode()
    expected = {
        "Name": project["name"],
        "Version": version,
        "Summary": project["description"],
        "License-Expression": project["license"],
        "License-File": "LICENSE",
        "Requires-Python": project["requires-python"],
        "Description-Content-Type": "text/markdown",
    }
    wrong = {k: metadata.get(k) for k, v in expected.items() if metadata.get(k) != v}
    if wrong:
        raise Failed(f"wheel metadata differs from pyproject.toml: {wrong}")
    requires = {
        re.split(r"[<>=!~; \[]", r, maxsplit=1)[0].lower() for r in metadata.get_all("Requires-Dist", [])
    }
    missing = [
        d
        for d in project["dependencies"]
        if re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower() not in requires
    ]
    if missing:
        raise Failed(f"dependencies missing from Requires-Dist: {missing}")
    urls = " ".join(metadata.get_all("Project-URL", []))
    if "Repository, https://github.com/" not in urls:
        raise Failed(f"no repository URL in the metadata: {urls!r}")
    description = metadata.get_payload()
    if "mcp-name: io.github.work-fort/sharkfin-mcp" not in description:
        raise Failed("the long description lacks the mcp-name line the MCP registry verifies on PyPI")
    if not re.search(r"^sharkfin-mcp = sharkfin_mcp\.cli:main$", entry_points, re.M):
        raise Failed("no sharkfin-mcp console script")
    return f"{len(names)} files, license, metadata complete, {len(requires)} requirements"


def check_sdist(sdist: Path, version: str) -> str:
    """Raises Failed unless the sdist holds the sources, tests and license, and no caches."""
    prefix = f"sharkfin_mcp-{version}/"
    with tarfile.open(sdist) as tar:
        names = [m.name for m in tar.getmembers()]
    outside = [n for n in names if not (n + "/").startswith(prefix)]
    if outside:
        raise Failed(f"sdist members outside {prefix}: {outside[:5]}")
    relative = {n[len(prefix) :] for n in names if n.startswith(prefix)}
    caches = [
        n
        for n in relative
        if re.search(
            r"(^|/)(__pycache__|\.venv|node_modules|\.pytest_cache|\.mypy_cache|\.cache|\.hypothesis)(/|$)|\.pyc$",
            n,
        )
    ]
    if caches:
        raise Failed(f"the sdist holds caches: {sorted(caches)[:10]}")
    required = {
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "PKG-INFO",
        "sharkfin_mcp/cli.py",
        "sharkfin_mcp/py.typed",
    }
    if missing := required - relative:
        raise Failed(f"the sdist lacks {sorted(missing)}")
    return f"{len(relative)} members, license and sources, no caches"


def check_bundle(bundle: Path, manifest: dict[str, Any]) -> str:
    """Raises Failed unless the packed .mcpb holds exactly the staged files and our manifest."""
    with zipfile.ZipFile(bundle) as mcpb:
        names = {n for n in mcpb.namelist() if not n.endswith("/")}
        packed = json.loads(mcpb.read("manifest.json")) if "manifest.json" in names else None
    if names != BUNDLE_FILES:
        raise Failed(f"bundle holds {sorted(names)}, expected {sorted(BUNDLE_FILES)}")
    if packed != manifest:
        raise Failed("the bundle's manifest.json differs from manifests/manifest.json")
    command = manifest["server"]["mcp_config"]
    if command["args"] != [f"sharkfin-mcp@{manifest['version']}"]:
        raise Failed(f"the bundle does not launch the pinned release: {command['args']}")
    return f"{sorted(names)}"


def registry_entry(server: dict[str, Any], bundle: Path, version: str) -> dict[str, Any]:
    """The committed server.json plus the bundle as an ``mcpb`` package: its GitHub release
    download URL and SHA-256 (the registry requires fileSha256 for MCPB packages)."""
    repository = server["repository"]["url"].rstrip("/")
    entry: dict[str, Any] = json.loads(json.dumps(server))
    entry["packages"] = [p for p in entry["packages"] if p["registryType"] != "mcpb"]
    entry["packages"].append(
        {
            "registryType": "mcpb",
            "identifier": f"{repository}/releases/download/v{version}/{bundle.name}",
            "fileSha256": sha256(bundle),
            "transport": {"type": "stdio"},
        }
    )
    return entry


# -- the steps ------------------------------------------------------------------------------------


class DryRun:
    def __init__(self, out: Path, tag: str | None, published_schema: bool, image: bool = True) -> None:
        self.out = out
        self.tag = tag
        self.published_schema = published_schema
        self.build_image = image
        self.failures = 0
        self.version = package_version()

    def step(self, title: str, body: Callable[[], str | None]) -> None:
        try:
            detail = body()
        except (Failed, NodeToolsError, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as exc:
            self.failures += 1
            sys.stdout.write(f"[FAIL] {title}: {exc}\n")
        else:
            mark = "SKIP" if detail is not None and detail.startswith("skipped") else "PASS"
            sys.stdout.write(f"[{mark}] {title}{': ' + detail if detail else ''}\n")
        sys.stdout.flush()

    def version_check(self) -> str:
        if found := problems(self.tag):
            raise Failed("; ".join(found))
        return f"{self.version}" + (f" = tag {self.tag}" if self.tag else " (no tag given)")

    def build(self) -> str:
        python = self.out / "python"
        shutil.rmtree(python, ignore_errors=True)
        run(["uv", "build", "--out-dir", str(python)])
        (python / ".gitignore").unlink(missing_ok=True)  # uv writes one; PyPI must get only dists
        self.wheel, self.sdist = (
            python / f"sharkfin_mcp-{self.version}-py3-none-any.whl",
            python / f"sharkfin_mcp-{self.version}.tar.gz",
        )
        built = sorted(p.name for p in python.iterdir())
        if built != sorted([self.wheel.name, self.sdist.name]):
            raise Failed(f"uv build produced {built}")
        return ", ".join(built)

    def uvx_runs_the_wheel(self) -> str:
        printed = run(["uvx", "--from", str(self.wheel), "sharkfin-mcp", "--version"], timeout=600).strip()
        if printed != f"sharkfin-mcp {self.version}":
            raise Failed(f"printed {printed!r}")
        return printed

    def bundle(self) -> str:
        tools = install()
        mcpb = tools.package_bin("@anthropic-ai/mcpb")
        stage = self.out / "mcpb-src"
        shutil.rmtree(stage, ignore_errors=True)
        (stage / "sharkfin_mcp").mkdir(parents=True)
        # The server itself comes from PyPI through uvx; the entry point is there for validation.
        shutil.copyfile(ROOT / "manifests" / "manifest.json", stage / "manifest.json")
        shutil.copyfile(ROOT / "sharkfin_mcp" / "cli.py", stage / "sharkfin_mcp" / "cli.py")
        for name in ("LICENSE", "README.md"):
            shutil.copyfile(ROOT / name, stage / name)
        run([*mcpb, "validate", str(stage / "manifest.json")])
        bundles = self.out / "mcpb"
        shutil.rmtree(bundles, ignore_errors=True)
        bundles.mkdir(parents=True)
        self.mcpb = bundles / f"sharkfin-mcp-{self.version}.mcpb"
        run([*mcpb, "pack", str(stage), str(self.mcpb)])
        manifest = json.loads((ROOT / "manifests" / "manifest.json").read_text(encoding="utf-8"))
        detail = check_bundle(self.mcpb, manifest)
        run([*mcpb, "info", str(self.mcpb)])
        return f"validated and packed {self.mcpb.name} ({self.mcpb.stat().st_size} bytes): {detail}"

    def server_json(self) -> str:
        server = json.loads((ROOT / "manifests" / "server.json").read_text(encoding="utf-8"))
        entry = registry_entry(server, self.mcpb, self.version)
        target = self.out / "registry" / "server.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
        run(["uvx", CHECK_JSONSCHEMA, "--schemafile", str(KNOWN_FIELDS_SCHEMA), str(target)])
        checked = "the known fields (scripts/server.known-fields.schema.json)"
        if self.published_schema:
            run(["uvx", CHECK_JSONSCHEMA, "--schemafile", entry["$schema"], str(target)])
            checked += f" and the published schema {entry['$schema']}"
        digest = entry["packages"][-1]["fileSha256"]
        return f"{target.relative_to(self.out)} (mcpb fileSha256 {digest[:12]}…) valid against {checked}"

    def image(self) -> str:
        if not self.build_image:
            return "skipped (--no-image): the release workflow's image job builds and checks it"
        docker = shutil.which("docker")
        if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
            return "skipped: no Docker engine here (the release workflow builds linux/amd64 and linux/arm64)"
        tag = f"sharkfin-mcp:{self.version}-dry-run"
        run([docker, "build", "-t", tag, "."], timeout=1800)
        printed = run([docker, "run", "--rm", tag, "--version"]).strip()
        label = run(
            [
                docker,
                "inspect",
                "--format",
                '{{ index .Config.Labels "io.modelcontextprotocol.server.name" }}',
                tag,
            ]
        ).strip()
        if printed != f"sharkfin-mcp {self.version}" or label != "io.github.work-fort/sharkfin-mcp":
            raise Failed(f"image printed {printed!r}, label {label!r}")
        return f"{tag} runs and carries the registry label"

    def run_all(self) -> int:
        self.step("version", self.version_check)
        self.step("build sdist and wheel (uv build)", self.build)
        if hasattr(self, "wheel"):
            self.step("wheel contents and metadata", lambda: check_wheel(self.wheel, self.version))
            self.step("sdist contents", lambda: check_sdist(self.sdist, self.version))
            self.step("uvx --from <wheel> sharkfin-mcp --version", self.uvx_runs_the_wheel)
        self.step("MCPB bundle (mcpb validate, mcpb pack, contents)", self.bundle)
        if hasattr(self, "mcpb"):
            self.step("registry server.json (check-jsonschema)", self.server_json)
        self.step("OCI image", self.image)
        verdict = "dry run passed" if not self.failures else f"dry run FAILED ({self.failures} checks)"
        sys.stdout.write(f"{verdict}; outputs in {self.out}\n")
        return 1 if self.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Release dry run: build and check everything, upload nothing."
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    parser.add_argument("--tag", help="the tag being released (v + the package version)")
    parser.add_argument(
        "--published-schema",
        action="store_true",
        help="also validate server.json against its $schema URL (network)",
    )
    parser.add_argument(
        "--no-image",
        dest="image",
        action="store_false",
        help="skip the OCI image build (where another job builds and checks the image)",
    )
    args = parser.parse_args(argv)
    return DryRun(args.out.resolve(), args.tag, args.published_schema, args.image).run_all()


if __name__ == "__main__":
    sys.exit(main())
