"""The locked Node tools (scripts/node_tools.py) for the tests that drive TypeScript clients.

Skipped only where npm itself is missing; a failed install fails the test, so a broken tool
chain cannot pass as "skipped". .ci/run installs them first and fails if that does not work.
"""

from __future__ import annotations

import shutil

import pytest

from scripts.node_tools import NodeTools, NodeToolsError, install, installed


def node_tools_or_skip() -> NodeTools:
    if tools := installed():
        return tools
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node/npm not installed (run .ci/run or python -m scripts.node_tools)")
    try:
        return install()
    except NodeToolsError as exc:
        pytest.fail(str(exc))
