"""Run the benchmarks: ``.venv/bin/python -m benchmarks [--quick] [--profile] [--only NAME ...]``.

Each benchmark starts its own hub (and daemon) on loopback, prints a table and writes JSON to
``benchmarks/results/`` (``<name>-latest.json`` and a time-stamped copy)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback

from . import (bench_dispatch, bench_fleet, bench_footprint, bench_many, bench_output, bench_replicas, bench_sched,
               bench_task_start)
from .common import write_result

BENCHMARKS = {
    "dispatch": bench_dispatch.run,
    "output": bench_output.run,
    "fleet": bench_fleet.run,
    "footprint": bench_footprint.run,
    "replicas": bench_replicas.run,
    "many": bench_many.run,
    "taskstart": bench_task_start.run,
    "sched": bench_sched.run,
}


def _terminate(signum, frame):  # noqa: ANN001
    raise KeyboardInterrupt(f"signal {signum}")  # so every finally: stops its hub and daemon


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a couple of minutes in all")
    parser.add_argument("--profile", action="store_true", help="py-spy the hub and daemon; top functions in the output")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--fleet-steps", help="fleet sizes, comma-separated (default 1000,2000,5000,10000)")
    parser.add_argument("--fleet-poll", type=float, default=60.0,
                        help="simulated agents' poll interval: 60 = our daemon with its WebSocket up (default), "
                             "10 = the deployed v1 daemons")
    parser.add_argument("--replica-configs", help="replicas benchmark: configurations, comma-separated "
                        f"(default sqlite,pg1,pg2; choices {','.join(bench_replicas.CONFIGS)})")
    parser.add_argument("--many-configs", help="many benchmark: configurations, comma-separated (default sqlite,pg2)")
    parser.add_argument("--sched-db", help="sched benchmark: a PostgreSQL URL (postgresql+asyncpg://...; "
                        "default: SQLite in a temporary directory)")
    args = parser.parse_args(argv)
    # replicas, many: PostgreSQL + Redis; taskstart: builds a 20,000-file repository (--only taskstart)
    names = args.only or [n for n in BENCHMARKS if n not in ("replicas", "many", "taskstart")]
    summary, failed = {}, []
    t0 = time.monotonic()
    for name in names:
        print(f"\n### {name}{' (quick)' if args.quick else ''}", flush=True)
        started = time.monotonic()
        try:
            kwargs = {"quick": args.quick, "profile": args.profile}
            if name in ("fleet", "replicas"):
                kwargs["poll_s"] = args.fleet_poll
                if args.fleet_steps:
                    kwargs["steps"] = [int(s) for s in args.fleet_steps.split(",")]
            if name == "sched" and args.sched_db:
                kwargs["database_url"] = args.sched_db
            if name == "many" and args.many_configs:
                kwargs["configs"] = args.many_configs.split(",")
            if name == "replicas" and args.replica_configs:
                kwargs["configs"] = args.replica_configs.split(",")
            result = BENCHMARKS[name](**kwargs)
            summary[name] = {"targets": result.get("targets"), "ratios": result.get("ratios"),
                             "seconds": round(time.monotonic() - started, 1), "file": result.get("file")}
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            failed.append(name)
            summary[name] = {"error": f"{type(exc).__name__}: {exc}"}
    path = write_result("summary", {"results": summary, "seconds": round(time.monotonic() - t0, 1),
                                    "quick": args.quick})
    print(f"\nsummary: {json.dumps({k: v.get('targets') or v.get('error') for k, v in summary.items()})}")
    print(f"results: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
