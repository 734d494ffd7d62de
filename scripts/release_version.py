"""The release version comes from one place, ``sharkfin_mcp/_version.py``; a release tag must say
the same (``v`` + version), and so must every manifest that pins it.

``python scripts/release_version.py --tag v0.1.0`` prints the version and exits 0, or prints what
disagrees and exits 1. Standard library only (the release workflow runs it before installing
anything), and it reads the version file as text rather than importing the package.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = ROOT / "sharkfin_mcp" / "_version.py"
PEP440_RELEASE = re.compile(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?")


def package_version() -> str:
    """The ``__version__`` string in sharkfin_mcp/_version.py; ValueError if it is missing or is
    not a plain release (``1.2.3``, ``1.2.3rc1``)."""
    match = re.search(r'^__version__ = "([^"]+)"$', VERSION_FILE.read_text(encoding="utf-8"), re.M)
    if not match:
        raise ValueError(f'no __version__ = "..." line in {VERSION_FILE}')
    if not PEP440_RELEASE.fullmatch(match[1]):
        raise ValueError(f"{match[1]!r} is not a release version like 1.2.3 or 1.2.3rc1")
    return match[1]


def problems(tag: str | None) -> list[str]:
    """Everything that disagrees with the package version (empty when the release may go on)."""
    version = package_version()
    found = []
    if tag is not None and tag != f"v{version}":
        found.append(
            f"tag {tag!r} does not match the package version {version!r} in sharkfin_mcp/_version.py: "
            f"tag v{version}, or change the version and commit it first"
        )
    server = json.loads((ROOT / "manifests" / "server.json").read_text(encoding="utf-8"))
    pinned = {"manifests/server.json": server["version"]}
    pinned |= {
        f"manifests/server.json packages[{i}]": p.get("version") for i, p in enumerate(server["packages"])
    }
    pinned["manifests/manifest.json"] = json.loads(
        (ROOT / "manifests" / "manifest.json").read_text(encoding="utf-8")
    )["version"]
    for where, value in pinned.items():
        if value is not None and value != version:
            found.append(f"{where} says {value!r}, not {version!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", help="the git tag being released, e.g. v0.1.0")
    args = parser.parse_args(argv)
    try:
        found = problems(args.tag)
    except ValueError as exc:
        found = [str(exc)]
    if found:
        for problem in found:
            sys.stderr.write(f"release version: {problem}\n")
        return 1
    sys.stdout.write(package_version() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
