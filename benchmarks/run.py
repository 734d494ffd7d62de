"""Run every benchmark section side by side and print one table; JSON goes to results/latest.json.

    uv run python -m benchmarks            # full run (several minutes)
    uv run python -m benchmarks --quick    # small counts, under a minute
    uv run python benchmarks/run.py --quick --only latency,startup

Everything runs on loopback against a sandbox daemon in its own process
(``python -m sharkfin_mcp.sandbox``); the MCP server under test is the ``sharkfin-mcp``
console script of this checkout, spoken to over stdio. The machine is shared, so numbers are
noisy: compare the columns of one run, not runs with each other.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

import anyio

from benchmarks import concurrency, delivery, ingestion, latency, memory, startup, tokens
from benchmarks._common import ROOT

LATENCY_PATHS = ("raw_ws", "sharkfin_client", "mcp_stdio", "mcp_sdk_client", "floor_sdk", "floor_bare")
SECTIONS = ("latency", "concurrency", "ingestion", "delivery", "tokens", "startup", "memory")
FULL = {
    "latency": {"calls": 500, "warmup": 30},
    "concurrency": {"levels": [1, 8, 32, 64], "calls": 1000, "warmup": 30},
    "ingestion": {"events": 20_000, "in_process_events": 20_000},
    "delivery": {"posts": 50},
    "tokens": {},
    "startup": {"spawns": 20, "import_runs": 5},
    "memory": {"capacity": None, "rounds": 5},
}
QUICK = {
    "latency": {"calls": 20, "warmup": 3},
    "concurrency": {"levels": [1, 8, 32, 64], "calls": 64, "warmup": 3},
    "ingestion": {"events": 500, "in_process_events": 2000},
    "delivery": {"posts": 5},
    "tokens": {},
    "startup": {"spawns": 3, "import_runs": 1},
    "memory": {"capacity": 100, "rounds": 3},
}


def _run_section(name: str, params: dict[str, Any]) -> dict[str, Any]:
    if name == "latency":
        return anyio.run(lambda: latency.run(params["calls"], params["warmup"]))
    if name == "concurrency":
        return anyio.run(lambda: concurrency.run(params["levels"], params["calls"], params["warmup"]))
    if name == "ingestion":
        return anyio.run(lambda: ingestion.run(params["events"], params["in_process_events"]))
    if name == "delivery":
        return anyio.run(lambda: delivery.run(params["posts"]))
    if name == "tokens":
        return anyio.run(tokens.run)
    if name == "startup":
        return startup.run(params["spawns"], params["import_runs"])
    if name == "memory":
        return anyio.run(lambda: memory.run(params["capacity"], params["rounds"]))
    raise ValueError(name)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _yes(flag: bool) -> str:
    return "MET" if flag else "NOT MET"


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    s = results["sections"]
    add(
        f"sharkfin-mcp benchmarks ({results['mode']}, {results['git']['commit'][:10]}"
        f"{' +local changes' if results['git']['dirty'] else ''}, loadavg {results['loadavg_start']})"
    )
    if "latency" in s:
        r = s["latency"]
        cpu = r["cpu_ms_per_history_call"]
        add("")
        add(f"1. Tool-call latency, stdio vs raw WebSocket ({r['calls_per_path']} calls per path, ms)")
        head = f"{'median':>8} {'p90':>8} {'p99':>8} {'- raw':>8} {'srv CPU/call':>13}"
        add(f"   {'op':<13} {'path':<17} {head}")
        for op in ("history", "send_message"):
            for path in LATENCY_PATHS:
                if path not in r[op]:
                    continue
                m = r[op][path]
                over = f"{m['over_raw_ms']:+8.3f}" if "over_raw_ms" in m else " " * 8
                used = f"{cpu[path]:10.3f} ms" if op == "history" and path in cpu else ""
                add(
                    f"   {op:<13} {path:<17} {m['median_ms']:8.3f} {m['p90_ms']:8.3f} {m['p99_ms']:8.3f} "
                    f"{over} {used}"
                )
            o = r[op]["overhead_vs_raw"]
            add(
                f"   {op:<13} {'mcp_stdio - raw':<17} {o['median_ms']:+8.3f} (x{o['median_ratio']:.2f}), "
                f"p99 {o['p99_ms']:+.3f}   target <= +{latency.OVERHEAD_TARGET_MS} ms median: "
                f"{_yes(r[op]['target_met'])}"
            )
        ours = r["server_cpu_ms_per_history_call"]
        add(
            f"   server CPU per history({r['history_limit']}) call: {ours:.3f} ms   target <= "
            f"{latency.CPU_TARGET_MS} ms: {_yes(ours <= latency.CPU_TARGET_MS)}"
        )
        add(
            f"   floors on this machine: the SDK's dispatch of a no-op tool {cpu['floor_sdk']:.3f} ms, "
            f"a bare Python server doing the call's work {cpu['floor_bare']:.3f} ms"
        )
    if "concurrency" in s:
        r = s["concurrency"]
        add("")
        add("2. Concurrent history calls through one MCP session")
        add(
            f"   {'N':>3} {'calls':>6} {'calls/s':>9} {'x N=1':>6} {'median':>8} {'p99':>8} "
            f"{'srv CPU/call':>13} {'sandbox CPU/call':>17}"
        )
        for row in r["rows"]:
            add(
                f"   {row['n']:>3} {row['calls']:>6} {row['calls_per_s']:9.0f} {row['speedup_vs_n1']:6.2f} "
                f"{row['median_ms']:8.2f} {row['p99_ms']:8.2f} {row['server_cpu_ms_per_call']:10.3f} ms "
                f"{row['sandbox_cpu_ms_per_call']:14.3f} ms"
            )
        add(
            f"   target N=32 >= 3x N=1: {_yes(r['target_met'])}; "
            f"server CPU per call flat (within 0.67-1.5x of N=1): {_yes(r['cpu_per_call_flat'])}"
        )
    if "ingestion" in s:
        r = s["ingestion"]
        t, p = r["through_sandbox"], r["in_process"]
        add("")
        add(f"3. Event ingestion: burst of {t['events_sent']} message.new from alice")
        add(
            f"   sandbox accepted            {t['events_acked_by_sandbox']:>7}  {t['sandbox_accept_per_s']:9.0f}/s"  # noqa: E501
        )
        add(
            f"   raw observer (bob) got      {t['raw_observer_received']:>7}  {t['raw_observer_per_s']:9.0f}/s"  # noqa: E501
        )
        add(f"   server buffered             {t['server_buffered']:>7}  {t['server_ingest_per_s']:9.0f}/s")
        add(
            f"   lost {t['lost']} (in the sandbox {t['lost_in_sandbox']}, by the server {t['lost_by_server']}; "  # noqa: E501
            f"reported: client stream {t['lost_reported_by_client_stream']}, buffer {t['lost_reported_by_buffer']})"  # noqa: E501
        )
        add(
            f"   server RSS {t['server_rss_before_kib'] / 1024:.1f} MiB before, "
            f"{t['server_rss_after_kib'] / 1024:.1f} after, peak {t['server_peak_rss_kib'] / 1024:.1f} MiB"
        )
        add(
            f"   in process ({p['events']} pushes, before the channel read): "
            f"Runtime.ingest {p['ingest_only_per_s']:.0f}/s; "
            f"decode+parse+ingest {p['decode_parse_ingest_per_s']:.0f}/s"
        )
        add(f"   bottleneck: {r['bottleneck']}")
    if "delivery" in s:
        r = s["delivery"]
        add("")
        add(f"6. Post-to-wake: a pending wait_for_messages returns it ({r['posts']} posts per path, ms)")
        add(f"   {'path':<34} {'median':>8} {'max':>8}")
        for key, label in (
            ("raw_rest_notice", "REST post -> raw /notifications"),
            ("rest_post_to_wake", "REST post -> wait returns"),
            ("ws_post_to_wake", "WS post -> wait returns"),
        ):
            add(f"   {label:<34} {r[key]['median_ms']:8.2f} {r[key]['max_ms']:8.2f}")
        add(
            f"   waits that timed out instead: {r['missed']}   target REST max < 1000 ms: "
            f"{_yes(r['rest_post_to_wake']['max_ms'] < 1000 and not r['missed'])}"
        )
    if "tokens" in s:
        r = s["tokens"]
        ref = r["bridge_reference"]
        add("")
        add("7. What the model reads (bytes; ~tokens = bytes/4)")
        add(f"   {'item':<34} {'bytes':>7} {'~tokens':>8} {'target':>7}  {'Go bridge':>9}")
        rows = (
            ("catalog_all", f"catalog, all tools ({r['catalog_all']['tools']})", ref["catalog_bytes"]),
            ("catalog_core", f"catalog, core ({r['catalog_core']['tools']})", ref["catalog_bytes"]),
            ("history_structured", "history(20) structuredContent", ref["history_bytes"]),
            ("history_text", "history(20) text", None),
            ("raw_ws_history", "history(20) raw WS reply (floor)", None),
        )
        for key, label, bridge in rows:
            e = r[key]
            target = f"{e['target']:>7}" if "target" in e else f"{'':>7}"
            verdict = f"  {_yes(e['met'])}" if "met" in e else ""
            add(f"   {label:<34} {e['bytes']:>7} {e['tokens']:>8} {target}  {bridge or '':>9}{verdict}")
    if "startup" in s:
        r = s["startup"]
        st = r["spawn_to_initialize"]
        add("")
        add(f"4. Start-up, spawn to initialize answered (n={st['sharkfin_mcp']['n']}, ms)")
        for name in ("hello_world", "sharkfin_mcp"):
            add(f"   {name:<14} median {st[name]['median_ms']:7.0f}  min {st[name]['min_ms']:7.0f}")
        add(
            f"   difference {r['startup_overhead_ms']:+.0f} ms   target <= +150 ms: {_yes(r['startup_target_met'])}"  # noqa: E501
        )
        imp = r["import"]
        add(
            f"   own import beyond mcp.server.mcpserver: {imp['own_import_ms_median']:.0f} ms "
            f"(SDK {imp['sdk_import_ms_median']:.0f} ms)   target < 50 ms: {_yes(r['import_target_met'])}"
        )
        heavy = ", ".join(f"{k} {v:.1f}" for k, v in list(imp["heaviest_self_ms"].items())[:6])
        add(f"   heaviest (self ms): {heavy}")
    if "memory" in s:
        r = s["memory"]
        add("")
        cap = f"{r['buffer_capacity']}{' (default)' if r['capacity_is_default'] else ''}"
        add(f"5. Server RSS, buffer capacity {cap}")
        add(
            "   "
            + ", ".join(f"{x['events_pushed']} events: {x['rss_kib'] / 1024:.1f} MiB" for x in r["samples"])
        )
        add(
            f"   ~{r['rss_per_buffered_event_bytes']:.0f} B per buffered event; growth after the first fill "
            f"{r['growth_after_first_fill_kib']} KiB ({r['growth_after_first_fill_per_event_bytes']:.1f} B/event)"  # noqa: E501
            f"   bounded by capacity: {_yes(r['bounded'])}"
        )
    for name, error in results.get("errors", {}).items():
        add(f"\n{name}: FAILED: {error}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts; finishes in under a minute")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    config = QUICK if args.quick else FULL
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "git": {
            "commit": _git("rev-parse", "HEAD"),
            "dirty": bool(_git("status", "--porcelain", "sharkfin_mcp")),
        },
        "config": {name: config[name] for name in chosen},
        "sections": {},
        "durations_s": {},
    }
    errors: dict[str, str] = {}
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            results["sections"][name] = _run_section(name, config[name])
        except Exception as exc:
            errors[name] = "".join(traceback.format_exception(exc)[-3:]).strip()
            traceback.print_exception(exc, file=sys.stderr)
        results["durations_s"][name] = round(time.perf_counter() - t0, 1)
    if errors:
        results["errors"] = errors
    results["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(render(results))
    print(f"\nJSON: {args.output}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
