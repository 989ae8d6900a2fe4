"""The measurements: interleaved dnsperf rounds for query workloads, start-up runs for bigzone."""

import os
import sys
import time

from . import data, servers, workloads


class Ctx:
    def __init__(self, root, tmp, args):
        self.root = root
        self.tmp = tmp
        self.args = args
        self.server_cpu = str(args.server_cpu)
        self.client_cpu = str(args.client_cpu)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def _new_result(server):
    return {"label": server.label, "na": None, "version": None, "runs": [], "warm": None, "notes": []}


def _fmt_run(t, lat):
    p99 = lat.get("p99_us")
    p99s = f"{p99:.0f} µs" if p99 is not None else "-"
    cpu = t["cpu_us_per_answer"]
    cpus = f"{cpu:.2f} µs/ans" if cpu is not None else "-"
    return (f"{t['qps'] / 1000:.1f}k qps, {cpus}, server {t['server_cpu_pct'] or 0:.0f}% CPU, "
            f"others {t['others_cpu_pct']:.0f}%, loss {t['loss_pct']:.2f}%, p99 {p99s} @{lat['rate']}")


_EXPECTED_RCODES = {"hit": {"NOERROR"}, "nx": {"NXDOMAIN"}, "mix": {"NOERROR", "NXDOMAIN"},
                    "miss": {"NXDOMAIN"}}


def check_rcodes(wl, run):
    """A note if the answers are not the ones the workload asks for (a server answering
    REFUSED or SERVFAIL fast must not look good)."""
    rc = run["rcodes"]
    total = sum(rc.values())
    if not total:
        return "no answers"
    wrong = sum(n for code, n in rc.items() if code not in _EXPECTED_RCODES[wl.queries])
    if wrong > total / 1000:
        return f"{100.0 * wrong / total:.1f}% unexpected rcodes {rc}"
    if wl.queries == "mix" and not 0.45 <= rc.get("NXDOMAIN", 0) / total <= 0.55:
        return f"mix is not 50% NXDOMAIN: {rc}"
    return None


def run_query_workload(ctx, wl, zone, driver, server_keys):
    """Starts every server of the workload, warms each, then runs `rounds` interleaved rounds
    (A B C ... A B C ...): a closed-loop throughput run and a fixed-rate latency run each."""
    a = ctx.args
    results = {}
    running = []
    try:
        for key in server_keys:
            s = servers.BY_KEY[key](ctx)
            s.workload = wl.key
            res = results[key] = _new_result(s)
            reason = s.missing() or s.unsupported.get(wl.key)
            if reason:
                res["na"] = reason
                continue
            res["version"] = s.version()
            try:
                res["start_s"] = s.start(zone, deadline_s=60)
            except servers.StartError as e:
                res["na"] = "n/a (failed to start, log on stderr)"
                log(f"[{wl.key}] {e}")
                continue
            running.append((key, s))
            log(f"[{wl.key}] {s.label} answering on 127.0.0.1:{s.port} after {res['start_s']:.2f} s")

        fixed = workloads.query_file(wl, zone, os.path.join(ctx.tmp, f"queries-{wl.key}.txt"))
        made = data.miss_queries if wl.queries == "miss" else data.mix_queries
        # Warm-up (discarded): fills caches, faults in pages, and for mix sizes the round files.
        warm_file = fixed or made(os.path.join(ctx.tmp, "mix-warm.txt"), zone,
                                  int(a.warm_seconds * 200000), "warm")
        top_qps = 0.0  # sizes the mix files so that no miss name repeats within a run
        for key, s in running:
            t = driver.run(s, warm_file, a.warm_seconds)
            results[key]["warm"] = {"qps": t["qps"], "rcodes": t["rcodes"]}
            bad = check_rcodes(wl, t)
            if bad:
                results[key]["notes"].append(f"warm-up: {bad}")
            top_qps = max(top_qps, t["qps"])
            log(f"[{wl.key}] warm-up {s.label}: {t['qps'] / 1000:.1f}k qps, rcodes {t['rcodes']}")
        if fixed is None:
            data.remove(warm_file)

        for r in range(a.rounds):
            if fixed is None:
                thr_lines = int(max(top_qps * 2, 150000) * a.seconds)
                lat_lines = int(a.rate * a.lat_seconds * 1.2) + 1000
                thr_file = made(os.path.join(ctx.tmp, "mix-thr.txt"), zone, thr_lines, f"t{r}")
                lat_file = made(os.path.join(ctx.tmp, "mix-lat.txt"), zone, lat_lines, f"l{r}")
            else:
                thr_file = lat_file = fixed
                thr_lines = lat_lines = None
            for key, s in list(running):
                t = driver.run(s, thr_file, a.seconds)
                lat = driver.run(s, lat_file, a.lat_seconds, rate=a.rate)
                dead = [p for p in s.procs if not p.alive()]
                if dead:
                    results[key]["na"] = f"n/a ({dead[0].name} exited during round {r + 1}, log on stderr)"
                    log(f"[{wl.key}] {s.label}: {dead[0].name} exited with {dead[0].popen.returncode}:\n"
                        f"{dead[0].log_tail()}")
                    results[key]["runs"] = []
                    running.remove((key, s))
                    s.stop()
                    continue
                lat["rate"] = a.rate
                for x in (t, lat):
                    x.pop("argv", None)
                run = {"round": r + 1, "thr": t, "lat": lat}
                for phase, x in (("throughput", t), ("latency", lat)):
                    bad = check_rcodes(wl, x)
                    if bad:
                        results[key]["notes"].append(f"round {r + 1} {phase}: {bad}")
                if thr_lines and (t["sent"] > thr_lines or lat["sent"] > lat_lines):
                    results[key]["notes"].append(f"round {r + 1}: query file wrapped, some misses were repeats")
                results[key]["runs"].append(run)
                top_qps = max(top_qps, t["qps"])
                log(f"[{wl.key}] round {r + 1}/{a.rounds} {s.label}: {_fmt_run(t, lat)}")
            if fixed is None:
                data.remove(thr_file)
                data.remove(lat_file)
    finally:
        for key, s in running:
            try:
                s.stop()
            except RuntimeError as e:
                log(f"[{wl.key}] stopping {s.label}: {e}")
    return results


def run_bigzone(ctx, wl, server_keys):
    """Loads a zone of --bigzone-records A records into each server, interleaved over
    --bigzone-rounds rounds: time from exec to the first answer for the zone's last name,
    and memory (PSS over the process tree) right then."""
    a = ctx.args
    path = os.path.join(ctx.tmp, "big.zone")
    t0 = time.monotonic()
    zone = data.make_big_zone(path, a.bigzone_records)
    log(f"[bigzone] generated {a.bigzone_records} records ({os.path.getsize(path) / 1e6:.0f} MB) "
        f"in {time.monotonic() - t0:.1f} s")
    results = {}
    order = []
    for key in server_keys:
        s = servers.BY_KEY[key](ctx)
        res = results[key] = _new_result(s)
        reason = s.missing() or s.unsupported.get(wl.key)
        if reason:
            res["na"] = reason
        else:
            res["version"] = s.version()
            order.append(key)
    try:
        for r in range(a.bigzone_rounds):
            for key in order:
                res = results[key]
                if res["na"]:
                    continue
                s = servers.BY_KEY[key](ctx)
                try:
                    load_s = s.start(zone, deadline_s=a.bigzone_deadline)
                    pss, rss, hwm = s.memory_kb()
                except servers.StartError as e:
                    res["na"] = "n/a (failed to load, log on stderr)"
                    log(f"[bigzone] {e}")
                    continue
                finally:
                    s.stop()
                res["runs"].append({"round": r + 1, "load_s": load_s, "pss_kb": pss, "rss_kb": rss,
                                    "hwm_kb": hwm})
                log(f"[bigzone] round {r + 1}/{a.bigzone_rounds} {s.label}: loaded in {load_s:.2f} s, "
                    f"PSS {pss / 1024:.0f} MiB, RSS {rss / 1024:.0f} MiB, peak {hwm / 1024:.0f} MiB")
    finally:
        data.remove(path)
    return results
