"""Section 4: spawn to ``initialize`` answered over raw pipes, and the package's own import time.

Start-up: write one ``initialize`` JSON-RPC line to the child's stdin, read the reply line, stop
the clock; then close stdin and wait for the exit. ``sharkfin-mcp`` (console script) and the
bare hello-world are spawned alternately so that noise hits both.

Import time: ``python -X importtime -c "import mcp.server.mcpserver; import sharkfin_mcp.server"``,
summing the cumulative time of the top-level imports made after the SDK is in: exactly what
``sharkfin_mcp.server`` adds (its own modules plus any third-party module the SDK did not
already import), with the heaviest modules by self time.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ._common import INITIALIZE, ROOT, base_env, sandbox_process, server_command, server_env, stop, summary_ms

HELLO = Path(__file__).with_name("hello_server.py")


def time_to_initialize(command: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(INITIALIZE)
        process.stdin.flush()
        line = process.stdout.readline()
        elapsed = time.perf_counter() - t0
        reply = json.loads(line)
        if "result" not in reply:
            raise RuntimeError(f"initialize failed: {reply}")
        process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            stop(process)
        return elapsed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def import_breakdown() -> dict[str, Any]:
    code = "import mcp.server.mcpserver; import sharkfin_mcp.server"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=base_env(),
        cwd=ROOT,
        check=True,
    )
    rows: list[tuple[int, int, int, str]] = []  # self, cumulative, depth, name
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((int(self_us), int(cumulative_us), depth, name.strip()))
    # importtime prints children before parents; the top-level import of mcp.server.mcpserver ends
    # with the line for "mcp.server.mcpserver" at depth 0. Everything at depth 0 after it is ours.
    last_sdk = max(i for i, r in enumerate(rows) if r[2] == 0 and r[3].startswith("mcp"))
    ours = rows[last_sdk + 1 :]
    own_ms = sum(r[1] for r in ours if r[2] == 0) / 1000
    heaviest = sorted(ours, key=lambda r: r[0], reverse=True)[:8]
    return {
        "own_import_ms": own_ms,
        "sdk_import_ms": sum(r[1] for r in rows[: last_sdk + 1] if r[2] == 0) / 1000,
        "heaviest_self_ms": {r[3]: r[0] / 1000 for r in heaviest},
    }


def run(spawns: int, import_runs: int) -> dict[str, Any]:
    with sandbox_process() as sb:
        sharkfin_env = server_env(sb.ws_url)
        hello_cmd = [sys.executable, str(HELLO)]
        commands = {
            "sharkfin_mcp": (server_command(), sharkfin_env),
            "hello_world": (hello_cmd, base_env()),
        }
        for command, env in commands.values():  # warm the page cache once
            time_to_initialize(command, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(spawns):
            order = list(commands) if i % 2 == 0 else list(reversed(commands))
            for name in order:
                command, env = commands[name]
                samples[name].append(time_to_initialize(command, env))
    stats = {name: summary_ms(values) for name, values in samples.items()}
    diff = stats["sharkfin_mcp"]["median_ms"] - stats["hello_world"]["median_ms"]
    imports = [import_breakdown() for _ in range(import_runs)]
    own = statistics.median(r["own_import_ms"] for r in imports)
    return {
        "spawn_to_initialize": stats,
        "startup_overhead_ms": diff,
        "startup_target_met": diff <= 150,
        "import": {
            "own_import_ms_median": own,
            "own_import_ms_all": [r["own_import_ms"] for r in imports],
            "sdk_import_ms_median": statistics.median(r["sdk_import_ms"] for r in imports),
            "heaviest_self_ms": min(imports, key=lambda r: r["own_import_ms"])["heaviest_self_ms"],
        },
        "import_target_met": own < 50,
    }
