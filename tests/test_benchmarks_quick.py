"""The benchmark suite runs end to end in quick mode and writes well-formed JSON.

No timing is asserted: the machine is shared and the numbers are noisy by design.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("latency", "concurrency", "ingestion", "delivery", "startup", "memory")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the benchmarks read /proc")
def test_quick_benchmarks_run_and_write_json(tmp_path: Path) -> None:
    output = tmp_path / "quick.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads(output.read_text())
    assert results["mode"] == "quick"
    assert "errors" not in results
    for name in SECTIONS:
        assert isinstance(results["sections"].get(name), dict), name
    latency = results["sections"]["latency"]
    paths = {"raw_ws", "sharkfin_client", "mcp_stdio", "mcp_sdk_client", "floor_sdk", "floor_bare"}
    assert paths <= set(latency["history"])
    assert set(latency["cpu_ms_per_history_call"]) == paths - {"raw_ws", "sharkfin_client"}
    assert [row["n"] for row in results["sections"]["concurrency"]["rows"]] == [1, 8, 32, 64]
    through = results["sections"]["ingestion"]["through_sandbox"]
    # Every message reaches the buffer (the inbox reads the channel, whatever the pushes lost);
    # this also catches the benchmark itself no longer recognising the events it counts.
    assert through["server_buffered"] == through["events_acked_by_sandbox"] > 0
    assert "in_process" in results["sections"]["ingestion"]
    assert "spawn_to_initialize" in results["sections"]["startup"]
    delivery = results["sections"]["delivery"]
    assert delivery["rest_post_to_wake"]["n"] + delivery["missed"] == delivery["posts"]
    assert results["sections"]["memory"]["samples"]


def test_push_benchmark_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.push", "--posts", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout)
    assert results["missed"] == 0
    assert results["ws_dm_to_push"]["n"] == results["rest_post_to_push"]["n"] == 2
