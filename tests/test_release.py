"""The release checks can fail: each check of scripts/release_dry_run.py rejects a doctored
artifact (a wheel with tests or caches in it or without its license, an sdist with caches, a
bundle with a stray file or another manifest, a registry entry without the bundle's hash), the
tag must match the version. ``.ci/run`` runs the whole dry run on the checkout, printing each step.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from scripts.release_dry_run import (
    CHECK_JSONSCHEMA,
    KNOWN_FIELDS_SCHEMA,
    Failed,
    check_bundle,
    check_sdist,
    check_wheel,
    registry_entry,
)
from scripts.release_version import problems
from sharkfin_mcp._version import __version__

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("uv") is None:
        pytest.skip("uv is not installed")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(["uv", "build", "--out-dir", str(out)], cwd=ROOT, check=True, capture_output=True)
    return out / f"sharkfin_mcp-{__version__}-py3-none-any.whl", out / f"sharkfin_mcp-{__version__}.tar.gz"


def doctored_wheel(wheel: Path, target: Path, add: dict[str, bytes], drop: str = "") -> Path:
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if drop and item.filename.endswith(drop):
                continue
            dst.writestr(item, src.read(item))
        for name, data in add.items():
            dst.writestr(name, data)
    return target


def test_the_built_wheel_and_sdist_pass(built: tuple[Path, Path]) -> None:
    wheel, sdist = built
    assert "metadata complete" in check_wheel(wheel, __version__)
    assert "no caches" in check_sdist(sdist, __version__)
    with tarfile.open(sdist) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"LICENSE", "scripts/node_tools.py", ".ci/node/package-lock.json"} <= names, "tests need these"


@pytest.mark.parametrize(
    ("add", "drop", "complaint"),
    [
        ({"tests/test_x.py": b""}, "", "must not"),
        ({"sharkfin_mcp/__pycache__/cli.cpython-311.pyc": b""}, "", "must not"),
        ({"sharkfin_mcp/.mypy_cache/x.json": b""}, "", "must not"),
        ({"benchmarks/run.py": b""}, "", "must not"),
        ({}, "licenses/LICENSE", "lacks"),
        ({}, "sharkfin_mcp/py.typed", "lacks"),
    ],
)
def test_a_doctored_wheel_fails(
    built: tuple[Path, Path], tmp_path: Path, add: dict[str, bytes], drop: str, complaint: str
) -> None:
    bad = doctored_wheel(built[0], tmp_path / built[0].name, add, drop)
    with pytest.raises(Failed, match=complaint):
        check_wheel(bad, __version__)


def test_wheel_metadata_must_match_the_project(built: tuple[Path, Path], tmp_path: Path) -> None:
    dist_info = f"sharkfin_mcp-{__version__}.dist-info/METADATA"
    with zipfile.ZipFile(built[0]) as whl:
        metadata = whl.read(dist_info).decode()
    for before, after in [
        ("License-Expression: MIT", "License-Expression: GPL-3.0"),
        ("Requires-Dist: websockets", "Requires-Dist: notwebsockets"),
        ("mcp-name: io.github.work-fort/sharkfin-mcp", "mcp-name: someone/else"),
    ]:
        assert before in metadata
        bad = doctored_wheel(
            built[0],
            tmp_path / built[0].name,
            {dist_info: metadata.replace(before, after).encode()},
            drop="METADATA",
        )
        with pytest.raises(Failed):
            check_wheel(bad, __version__)


def test_an_sdist_with_caches_fails(built: tuple[Path, Path], tmp_path: Path) -> None:
    bad = tmp_path / built[1].name
    prefix = f"sharkfin_mcp-{__version__}/"
    with tarfile.open(built[1]) as src, tarfile.open(bad, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        cache = tmp_path / "x.pyc"
        cache.write_bytes(b"")
        dst.add(cache, arcname=prefix + "sharkfin_mcp/__pycache__/x.pyc")
    with pytest.raises(Failed, match="caches"):
        check_sdist(bad, __version__)


def make_bundle(path: Path, manifest: dict[str, object], extra: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as mcpb:
        mcpb.writestr("manifest.json", json.dumps(manifest))
        for name in ("sharkfin_mcp/cli.py", "LICENSE", "README.md", *extra):
            mcpb.writestr(name, "x")
    return path


def test_bundle_checks(tmp_path: Path) -> None:
    manifest = json.loads((ROOT / "manifests" / "manifest.json").read_text(encoding="utf-8"))
    assert "manifest.json" in check_bundle(make_bundle(tmp_path / "ok.mcpb", manifest), manifest)
    with pytest.raises(Failed, match="bundle holds"):
        check_bundle(make_bundle(tmp_path / "extra.mcpb", manifest, (".env",)), manifest)
    other = {**manifest, "version": "9.9.9"}
    with pytest.raises(Failed, match="differs"):
        check_bundle(make_bundle(tmp_path / "other.mcpb", other), manifest)


def test_registry_entry_carries_the_bundle_hash_and_the_schema_requires_it(tmp_path: Path) -> None:
    if shutil.which("uvx") is None:
        pytest.skip("uvx is not installed")
    bundle = tmp_path / f"sharkfin-mcp-{__version__}.mcpb"
    bundle.write_bytes(b"bundle bytes")
    server = json.loads((ROOT / "manifests" / "server.json").read_text(encoding="utf-8"))
    entry = registry_entry(server, bundle, __version__)
    mcpb = entry["packages"][-1]
    assert mcpb["identifier"].endswith(f"/releases/download/v{__version__}/{bundle.name}")
    assert mcpb["fileSha256"] == hashlib.sha256(b"bundle bytes").hexdigest()
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(entry), encoding="utf-8")
    del mcpb["fileSha256"]
    bad.write_text(json.dumps(entry), encoding="utf-8")

    def validate(path: Path) -> int:
        command = ["uvx", CHECK_JSONSCHEMA, "--schemafile", str(KNOWN_FIELDS_SCHEMA), str(path)]
        return subprocess.run(command, capture_output=True, timeout=300).returncode

    assert validate(good) == 0
    assert validate(bad) == 1


def test_the_tag_must_match_the_version() -> None:
    assert problems(f"v{__version__}") == []
    for tag in (__version__, f"v{__version__}.1", "v0.0.0", f"release-{__version__}"):
        (problem,) = problems(tag)
        assert "does not match" in problem
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "release_version.py"), "--tag", "v999.0.0"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "does not match" in done.stderr
