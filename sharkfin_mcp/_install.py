"""How users can run this version with uvx: pinned from PyPI once it is published there, or from
the Git repository until then (``sharkfin-mcp config`` and ``doctor`` use this).

How it knows, cheapest first, and never at import time:

1. How this copy was installed (PEP 610 ``direct_url.json``, no network): from a package index
   means the version is published; from a Git URL gives the exact commit to pin.
2. Otherwise (a checkout, a local wheel): ask the index's simple API (PEP 691 JSON; the same API
   uv uses) whether this version exists, with a 2-second timeout. Unreachable means unknown, and
   unknown falls back to the Git source, which works either way.

``SHARKFIN_PYPI_SIMPLE_URL`` overrides the index (default ``https://pypi.org/simple``), e.g. for a
mirror. The answer is an :class:`InstallSource`: the uvx arguments and a sentence for people.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

import httpx

from ._version import __version__

__all__ = ["GIT_URL", "InstallSource", "git_source", "install_source", "pinned_source"]

PACKAGE = "sharkfin-mcp"
GIT_URL = "https://github.com/work-fort/sharkfin-mcp"
DEFAULT_SIMPLE_URL = "https://pypi.org/simple"
TIMEOUT = 2.0
Published = Literal["yes", "no", "unknown"]


@dataclass(frozen=True)
class InstallSource:
    """``uvx_args``: the arguments after ``uvx`` that start this server; ``kind``: ``pypi`` (pinned
    release) or ``git``; ``note``: one sentence for people saying which applies and why."""

    kind: Literal["pypi", "git"]
    uvx_args: tuple[str, ...]
    note: str


def pinned_source(version: str = __version__) -> InstallSource:
    return InstallSource(
        "pypi", (f"{PACKAGE}@{version}",), f"{PACKAGE} {version} is published on PyPI: pinned to it"
    )


def git_source(commit: str | None = None, why: str = "") -> InstallSource:
    ref = f"@{commit}" if commit else ""
    where = f"commit {commit[:12]}" if commit else "the default branch"
    note = f"{why}: running the source from GitHub ({where}) with uvx" if why else f"from GitHub ({where})"
    return InstallSource("git", ("--from", f"git+{GIT_URL}{ref}", PACKAGE), note)


def _direct_url() -> dict[str, object] | None:
    """This installation's PEP 610 record, or None (installed from an index, or not installed)."""
    try:
        text = metadata.distribution(PACKAGE).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def published_on_index(version: str, env: Mapping[str, str] | None = None) -> Published:
    """Whether ``version`` of the package is on the index: one GET of its PEP 691 JSON page."""
    env = os.environ if env is None else env
    base = (env.get("SHARKFIN_PYPI_SIMPLE_URL") or DEFAULT_SIMPLE_URL).rstrip("/")
    try:
        reply = httpx.get(
            f"{base}/{PACKAGE}/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            timeout=TIMEOUT,
            follow_redirects=True,
        )
    except httpx.HTTPError:
        return "unknown"
    if reply.status_code == 404:
        return "no"
    if reply.status_code != 200:
        return "unknown"
    try:
        page = reply.json()
    except ValueError:
        return "unknown"
    versions = set(page.get("versions") or [])
    versions |= {
        f["filename"].split("-")[1]
        for f in page.get("files", [])
        if isinstance(f, dict) and str(f.get("filename", "")).count("-") >= 2
    }
    return "yes" if version in versions else "no"


def install_source(env: Mapping[str, str] | None = None, version: str = __version__) -> InstallSource:
    """What ``config`` should print for this version on this machine (see the module docstring).
    Never raises; at most one HTTP request with a 2-second timeout."""
    record = _direct_url()
    if record is None and _installed():
        return pinned_source(version)  # installed from an index: it is published there
    if record is not None:
        vcs = record.get("vcs_info")
        if isinstance(vcs, dict) and vcs.get("vcs") == "git" and isinstance(vcs.get("commit_id"), str):
            published = published_on_index(version, env)
            if published == "yes":
                return pinned_source(version)
            return git_source(vcs["commit_id"], f"{PACKAGE} {version} is not on PyPI")
    published = published_on_index(version, env)
    if published == "yes":
        return pinned_source(version)
    if published == "no":
        return git_source(why=f"{PACKAGE} {version} is not published on PyPI yet")
    return git_source(why=f"could not reach PyPI to check whether {PACKAGE} {version} is published")


def _installed() -> bool:
    try:
        metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        return False
    return True
