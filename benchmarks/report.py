"""Markdown tables from the latest results: ``python -m benchmarks.report [NAME=FILE ...]``.

Reads ``benchmarks/results/<name>-latest.json`` (or the files given) and prints the tables that
``docs/performance.md`` carries, so the page is regenerated from the JSON, not retyped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import RESULTS


def _load(name: str, files: dict[str, str]) -> dict | None:
    path = Path(files.get(name) or RESULTS / f"{name}-latest.json")
    return json.loads(path.read_text()) if path.exists() else None


def f(v, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, (int, float)):
        return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}"
    return str(v)


def dispatch(d: dict) -> str:
    r, s, p = d["push_real"]["latency_ms"], d["push_light"]["latency_ms"], d["poll_only"]["latency_ms"]
    rs, ss = d["push_real"]["server_ms"], d["push_light"]["server_ms"]
    e = d["poll_only"]["expected_ms"]
    out = ["| mode | tasks | p50 ms | p99 ms | hub-side p50 ms | hub-side p99 ms |", "|---|---|---|---|---|---|"]
    out.append(f"| push, real daemon | {r['n']} | {f(r['p50'])} | {f(r['p99'])} | {f(rs['p50'])} | {f(rs['p99'])} |")
    out.append(f"| push, light client (the hub's share) | {s['n']} | {f(s['p50'])} | {f(s['p99'])} | {f(ss['p50'])} | {f(ss['p99'])} |")
    out.append(f"| poll-only every 10 s (deployed daemons) | {p['n']} | {f(p['p50'], 0)} | {f(p['p99'], 0)} | | |")
    out.append(f"| poll-only, expected from the interval | | {f(e['p50'], 0)} | {f(e['p99'], 0)} | | |")
    ratios = d["ratios"]
    out.append("")
    out.append(f"Push is **{ratios['poll_p50_over_push_p50']:.0f}×** faster than polling at p50 and "
               f"**{ratios['poll_p99_over_push_p99']:.0f}×** at p99 (same run).")
    return "\n".join(out)


def output(d: dict) -> str:
    lat, thr = d["latency"], d["throughput"]
    L, H = lat["latency_ms"], lat["health_rtt_ms"]
    out = ["| what | n | p50 ms | p90 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
    out.append(f"| line written → live SSE subscriber | {L['n']} | {f(L['p50'])} | {f(L['p90'])} | {f(L['p99'])} | {f(L['max'])} |")
    out.append(f"| baseline: loopback `GET /health` | {H['n']} | {f(H['p50'])} | {f(H['p90'])} | {f(H['p99'])} | {f(H['max'])} |")
    out.append("")
    d2 = d.get("throughput_direct") or thr
    out.append("| throughput (one task, as fast as it can) | screen backend (default) | direct backend |")
    out.append("|---|---|---|")
    out.append(f"| bytes printed | {thr['bytes']:,} | {d2['bytes']:,} |")
    out.append(f"| stored by the hub | {f(thr['mb_per_s_stored'])} MB/s | {f(d2['mb_per_s_stored'])} MB/s |")
    out.append(f"| the program's own write rate | {f(thr['mb_per_s_program'])} MB/s | {f(d2['mb_per_s_program'])} MB/s |")
    out.append(f"| hub output = program's bytes (SHA-256) | {f(thr['byte_exact_vs_program'])} | {f(d2['byte_exact_vs_program'])} |")
    out.append(f"| hub output = agent's log file (SHA-256) | {f(thr['byte_exact_vs_log'])} | {f(d2['byte_exact_vs_log'])} |")
    out.append(f"| bytes lost | {thr['bytes'] - thr['stored_bytes']:,} | {d2['bytes'] - d2['stored_bytes']:,} |")
    return "\n".join(out)


def fleet(d: dict) -> str:
    out = ["| agents | all connected s | backlog gone s | heartbeat n | hb p50 ms | hb p99 ms | poll n | poll p50 ms | poll p99 ms | hub CPU % | "
           "simulator CPU % | hub RSS MB | OFFLINE events | errors | GC pauses > 20 ms in the window (> 100 ms since start) | passes |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in d["steps"]:
        out.append(f"| {s['agents']:,} | {f(s.get('connect_all_s'))} | {f(s.get('drained_s'))} | {s['heartbeat']['n']} | {f(s['heartbeat']['p50_ms'])} | "
                   f"{f(s['heartbeat']['p99_ms'])} | {s['poll']['n']} | {f(s['poll']['p50_ms'])} | "
                   f"{f(s['poll']['p99_ms'])} | {s['hub_cpu_percent']:.0f} | {s['sim_cpu_percent']:.0f} | "
                   f"{s['hub_rss_mb']:.0f} | {s['offline_events_total']} | {sum(s['errors'].values())} | "
                   f"{len(s.get('gc_pauses_over_20ms_in_window', [])) if 'gc_pauses_over_20ms_in_window' in s else '–'} "
                   f"({len(s.get('gc_pauses_over_100ms_so_far', []))}) | {f(s['passed'])} |")
    costs = d.get("request_costs") or {}
    if costs:
        out.append("")
        out.append("| request (one at a time) | hub CPU ms | wall ms | max/s on one core |")
        out.append("|---|---|---|---|")
        for k, v in costs.items():
            out.append(f"| {k} | {f(v['hub_cpu_ms'], 2)} | {f(v['wall_ms'], 2)} | {f(v['max_per_s_one_core'], 0)} |")
    out.append("")
    out.append(f"Largest fleet meeting the bar (poll every {d.get('poll_s', 10):g} s): **{d['largest_passing']:,}**.")
    return "\n".join(out)


def footprint(d: dict) -> str:
    out = ["| process | RSS MB | CPU % of one core |", "|---|---|---|"]
    out.append(f"| bare Python (baseline) | {f(d['baseline_bare']['rss_mb_max'])} | {f(d['baseline_bare']['cpu_percent'], 2)} |")
    out.append(f"| Python + the daemon's dependencies (baseline) | {f(d['baseline_deps']['rss_mb_max'])} | "
               f"{f(d['baseline_deps']['cpu_percent'], 2)} |")
    out.append(f"| daemon idle, {d['idle']['seconds']:.0f} s | {f(d['idle']['rss_mb_max'])} | {f(d['idle']['cpu_percent'], 2)} |")
    s = d["streaming"]
    out.append(f"| daemon streaming {s['mb_per_s']:.2f} MB/s | {f(s['rss_mb_max'])} | {f(s['cpu_percent'], 1)} |")
    return "\n".join(out)


def main(argv: list[str]) -> None:
    files = dict(a.split("=", 1) for a in argv if "=" in a)
    for name, render in [("dispatch", dispatch), ("output", output), ("fleet-poll60s", fleet),
                         ("fleet-poll10s", fleet), ("footprint", footprint)]:
        data = _load(name, files)
        if data:
            print(f"\n### {name} ({data['at']}, load average {data['machine']['load_avg'][0]:.1f})\n")
            print(render(data))


if __name__ == "__main__":
    main(sys.argv[1:])
