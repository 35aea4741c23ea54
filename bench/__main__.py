"""Every benchmark in one run: ``python -m bench [--json] [--quick]``.

Each stage runs in its own process, one after the other, on the stack that is
up (``bin/shuangda up --infra-only`` is enough: the benchmarks start the
services they measure). Each stage measures its own raw aiokafka
pass-through on the same broker in the same process as its ceiling, and its
ratio is against that figure; ``raw_per_s`` here is the median of those
ceilings. The merged figures are printed as one JSON object (``--json``) or
one line per figure.

Nothing here is a test: benchmarks are never timed assertions in the suite.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

#: (module, arguments at full size, arguments with --quick, the figures taken from its JSON object)
STAGES: list[tuple[str, list[str], list[str], dict[str, str]]] = [
    ("bench.runtime_passthrough", ["--events", "20000", "--seconds", "10"], ["--events", "5000", "--seconds", "5"],
     {"runtime_per_s": "runtime_per_s", "runtime_ratio": "runtime_ratio"}),
    ("bench.intake_kafka", [], ["--leads", "3000"],
     {"intake_leads_per_s": "intake_leads_per_s", "intake_leads_ratio": "intake_leads_ratio"}),
    ("bench.routing_assign", [], ["--events", "3000", "--seconds", "5"],
     {"routing_assign_per_s": "routing_assign_per_s", "routing_assign_ratio": "routing_assign_ratio"}),
    ("bench.credit_decisions", [], ["--decisions", "2000"],
     {"credit_decisions_per_s": "credit_decisions_per_s", "credit_decisions_ratio": "credit_decisions_ratio"}),
    ("bench.notify_deliveries", [], ["--events", "2000", "--seconds", "5"],
     {"notify_deliveries_per_s": "notify_deliveries_per_s"}),
    ("bench.credit_query", ["--entities", "1000000"], ["--entities", "100000"],
     {"search_p95_ms": "search_p95_ms"}),
    ("bench.pipeline", [], ["--leads", "2000", "--burst", "2000", "--seconds", "10"],
     {"pipeline_leads_per_s": "pipeline_leads_per_s", "pipeline_leads_ratio": "pipeline_leads_ratio",
      "complaint_to_webhook_p50_ms": "complaint_to_webhook_p50_ms",
      "complaint_to_webhook_p99_ms": "complaint_to_webhook_p99_ms"}),
]


#: stages that need longer than --stage-timeout at full size: credit_query's first indexing of 1M entities takes ~10 min
STAGE_TIMEOUTS: dict[str, float] = {"bench.credit_query": 1200.0}


def stage_timeout(module: str, default: float, quick: bool) -> float:
    """The stage's own timeout at full size (never below --stage-timeout), else --stage-timeout."""
    return default if quick else max(default, STAGE_TIMEOUTS.get(module, default))


def run_stage(module: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Run one benchmark module with --json; its figures are the last JSON line of its stdout."""
    started = time.perf_counter()
    env = {**os.environ, "SHUANGDA_BENCH_OUT": ""}
    try:
        done = subprocess.run([sys.executable, "-m", module, *args, "--json"], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            figures = json.loads(line)
            figures["stage_seconds"] = round(time.perf_counter() - started, 1)
            return figures
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {done.returncode}: " + " | ".join(tail)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run, not figures to quote)")
    parser.add_argument("--only", default="", help="comma-separated stage modules to run (e.g. intake_kafka,pipeline)")
    parser.add_argument("--stage-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    wanted = {f"bench.{m.strip()}" for m in args.only.split(",") if m.strip()}
    merged: dict[str, Any] = {}
    stages: dict[str, Any] = {}
    raws: list[float] = []
    rss: list[float] = []
    t0 = time.perf_counter()
    for module, full, quick, keys in STAGES:
        if wanted and module not in wanted:
            continue
        figures = run_stage(module, quick if args.quick else full, stage_timeout(module, args.stage_timeout, args.quick))
        stages[module.split(".", 1)[1]] = figures
        if not args.json:
            print(f"{module}: " + json.dumps(figures, ensure_ascii=False), file=sys.stderr, flush=True)
        for ours, theirs in keys.items():
            merged[ours] = figures.get(theirs)
        if isinstance(figures.get("raw_per_s"), (int, float)):
            raws.append(float(figures["raw_per_s"]))
        if isinstance(figures.get("rss_mb_max"), (int, float)):
            rss.append(float(figures["rss_mb_max"]))
    merged = {"raw_per_s": round(statistics.median(raws), 1) if raws else None, **merged,
              "rss_mb_max": max(rss) if rss else None, "seconds": round(time.perf_counter() - t0, 1),
              "stages": stages}
    if args.json:
        print(json.dumps(merged, ensure_ascii=False))
    else:
        for key, value in merged.items():
            if key != "stages":
                print(f"{key:32} {value}")
    failed = [name for name, figures in stages.items() if "error" in figures]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
