"""Google Benchmark micro-benchmarks (perf/micro/*_bench.cc -> build/perf/NAME), compared with
a saved baseline (perf/baselines/NAME.json, Google Benchmark's own JSON output).

Each benchmark runs --micro-repetitions times pinned to one CPU; the median's cpu_time is
compared with the baseline's median. A change is called only when it is larger than the
threshold and than twice the larger coefficient of variation of the two runs.
"""

import glob
import json
import os

from . import procs

_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def binaries(root):
    """(name, path) of every micro-benchmark source's binary, built or not."""
    out = []
    for src in sorted(glob.glob(os.path.join(root, "perf", "micro", "*_bench.cc"))):
        name = os.path.splitext(os.path.basename(src))[0]
        out.append((name, os.path.join(root, "build", "perf", name)))
    return out


def run_one(path, out_json, cpu, repetitions, min_time, bench_filter=None):
    argv = ["taskset", "-c", str(cpu), path, f"--benchmark_out={out_json}", "--benchmark_out_format=json",
            f"--benchmark_repetitions={repetitions}", "--benchmark_report_aggregates_only=true",
            f"--benchmark_min_time={min_time}"]
    if bench_filter:
        argv.append(f"--benchmark_filter={bench_filter}")
    log = out_json + ".log"
    p = procs.Proc(os.path.basename(path), argv, log)
    rc = p.popen.wait()
    p.stop()
    text = p.log_tail(40)
    os.unlink(log)
    if rc != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {rc}:\n{text}")
    try:
        with open(out_json) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        # --benchmark_filter matched nothing in this binary: it writes no JSON at all.
        return {"benchmarks": [], "context": {}}


def medians(doc):
    """{benchmark name: {"ns": median cpu_time in ns, "cv": coefficient of variation or 0,
    "items_per_second": ... if reported}} from Google Benchmark JSON (aggregates or plain runs)."""
    out = {}
    for b in doc.get("benchmarks", []):
        name = b.get("run_name") or b["name"]
        scale = _UNIT_NS.get(b.get("time_unit", "ns"), 1.0)
        e = out.setdefault(name, {"ns": None, "cv": 0.0})
        if b.get("run_type") == "aggregate":
            agg = b.get("aggregate_name")
            if agg == "median":
                e["ns"] = b["cpu_time"] * scale
                if "items_per_second" in b:
                    e["items_per_second"] = b["items_per_second"]
            elif agg == "cv":
                e["cv"] = b["cpu_time"]  # a fraction for the cv aggregate
        elif e["ns"] is None:
            e["ns"] = b["cpu_time"] * scale
    return {k: v for k, v in out.items() if v["ns"] is not None}


def _fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns" if ns >= 10 else f"{ns:.2f} ns"


def compare(name, base, now, threshold_pct):
    """Markdown rows and the number of regressions."""
    rows, regressions = [], 0
    for bench in sorted(set(base) | set(now), key=lambda k: (k not in now, k)):
        b, n = base.get(bench), now.get(bench)
        if not b:
            rows.append(f"| {name} | {bench} | – | {_fmt_ns(n['ns'])} | – | new (no baseline) |")
            continue
        if not n:
            rows.append(f"| {name} | {bench} | {_fmt_ns(b['ns'])} | – | – | gone |")
            continue
        change = 100.0 * (n["ns"] - b["ns"]) / b["ns"]
        noise = max(threshold_pct, 200.0 * max(b["cv"], n["cv"]))
        if change > noise:
            verdict = "**slower**"
            regressions += 1
        elif change < -noise:
            verdict = "faster"
        else:
            verdict = f"same (±{noise:.0f}%)"
        rows.append(f"| {name} | {bench} | {_fmt_ns(b['ns'])} | {_fmt_ns(n['ns'])} | {change:+.1f}% | {verdict} |")
    return rows, regressions


def run(root, tmp, args, log):
    """Runs every micro-benchmark binary, prints the comparison table, and saves new baselines
    when asked. Returns the number of regressions (or -1 if nothing could run)."""
    base_dir = os.path.join(root, "perf", "baselines")
    found = binaries(root)
    if not found:
        log("micro: no perf/micro/*_bench.cc yet")
        return -1
    rows = ["| binary | benchmark | baseline cpu_time | now | change | verdict |", "|---|---|---|---|---|---|"]
    regressions, ran = 0, 0
    for name, path in found:
        if not os.access(path, os.X_OK):
            log(f"micro: {path} is not built")
            rows.append(f"| {name} | (not built) | | | | |")
            continue
        out_json = os.path.join(tmp, name + ".json")
        log(f"micro: running {name} ({args.micro_repetitions} repetitions, pinned to CPU {args.client_cpu})")
        doc = run_one(path, out_json, args.client_cpu, args.micro_repetitions, args.micro_min_time,
                      args.micro_filter)
        now = medians(doc)
        if not now:
            log(f"micro: {name}: no benchmark matched")
            continue
        ran += 1
        base_path = os.path.join(base_dir, name + ".json")
        base = {}
        if os.path.exists(base_path):
            with open(base_path) as f:
                base_doc = json.load(f)
            base = medians(base_doc)
            c = base_doc.get("context", {})
            log(f"micro: baseline {os.path.relpath(base_path, root)} from {c.get('date', '?')} "
                f"({c.get('num_cpus', '?')} CPUs at {c.get('mhz_per_cpu', '?')} MHz)")
        else:
            log(f"micro: no baseline {os.path.relpath(base_path, root)} yet (perf/run --micro --save-baseline)")
        r, g = compare(name, base, now, args.micro_threshold)
        rows += r
        regressions += g
        if args.save_baseline:
            os.makedirs(base_dir, exist_ok=True)
            with open(base_path, "w") as f:
                json.dump(doc, f, indent=1)
                f.write("\n")
            log(f"micro: saved {os.path.relpath(base_path, root)}")
    print("\n".join(rows), flush=True)
    return regressions if ran else -1
