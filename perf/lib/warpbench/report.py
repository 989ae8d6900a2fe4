"""Medians with min-max, warpdns's ratio to each peer, and the one table (Markdown)."""

import statistics


def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


# (key in the summary, header, how to get it from a run, format, higher is better)
MEASURES = [
    ("qps", "qps", lambda run: run["thr"]["qps"], "k", True),
    ("cpu", "CPU µs/answer", lambda run: run["thr"]["cpu_us_per_answer"], "f2", False),
    ("srv_cpu_pct", "server CPU %", lambda run: run["thr"]["server_cpu_pct"], "f0", None),
    ("p50", "p50 µs @rate", lambda run: run["lat"]["p50_us"], "f0", False),
    ("p99", "p99 µs @rate", lambda run: run["lat"]["p99_us"], "f0", False),
    ("loss", "loss % @max", lambda run: run["thr"]["loss_pct"], "f2", False),
    ("loss_rate", "loss % @rate", lambda run: run["lat"]["loss_pct"], "f2", False),
]
RATIO_KEYS = ["qps", "cpu", "p50", "p99", "loss"]

# Replay mode (no client): per-core capacity of the DPDK poll loop; no peer can run it.
REPLAY_MEASURES = [
    ("mqps_core", "Mqps per core", lambda run: run["qps_per_core"] and run["qps_per_core"] / 1e6, "f2", True),
    ("cycles", "cycles/query", lambda run: run["cycles_per_query"], "f0", False),
    ("ns", "ns/query", lambda run: run["ns_per_query"], "f1", False),
    ("mqps_wall", "Mqps (wall)", lambda run: run["qps"] / 1e6, "f2", True),
    ("cpu_pct", "worker CPU %", lambda run: run["worker_cpu_pct"], "f0", None),
    ("hit_pct", "answered % of rx", lambda run: run["answered_pct"], "f2", None),
]

# DPDK mode over a veth: kxdpgun sweep (saturation) and dnsperf at a fixed rate.
VETH_MEASURES = [
    ("sat", "answered qps at saturation", lambda run: run["sat_qps"], "k", True),
    ("sat_sent", "sent qps there", lambda run: run["sat_sent_pps"], "k", None),
    ("sat_loss", "loss % there", lambda run: run["sat_loss_pct"], "f2", False),
    ("p50", "p50 µs @rate", lambda run: run["lat"]["p50_us"], "f0", False),
    ("p99", "p99 µs @rate", lambda run: run["lat"]["p99_us"], "f0", False),
    ("loss_rate", "loss % @rate", lambda run: run["lat"]["loss_pct"], "f2", False),
]
VETH_RATIO_KEYS = ["sat", "p50", "p99"]
VETH_LEAD = "warpdns-dpdk"

BIG_MEASURES = [
    ("load_s", "load s", lambda run: run["load_s"], "f2", False),
    ("pss_mib", "memory MiB (PSS)", lambda run: run["pss_kb"] / 1024, "f0", False),
    ("hwm_mib", "peak RSS MiB", lambda run: run["hwm_kb"] / 1024, "f0", False),
]


def summarize(results, measures):
    for res in results.values():
        res["summary"] = {k: summary([get(r) for r in res["runs"]]) for k, _, get, _, _ in measures} \
            if res["runs"] else {}


def _num(x, fmt):
    if fmt == "k":
        return f"{x / 1000:.1f}k"
    if fmt == "f0":
        return f"{x:.0f}"
    if fmt == "f1":
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(s, fmt):
    if not s:
        return "–"
    m = _num(s["median"], fmt)
    if s["n"] == 1:
        return m
    lo, hi = _num(s["min"], fmt), _num(s["max"], fmt)
    if fmt == "k":
        lo, hi = lo[:-1], hi  # 85.0–95.1k
    return f"{m} ({lo}–{hi})"


def ratio(w, p, key):
    """warpdns's median over the peer's, as '×0.62'."""
    if not w or not p:
        return "–"
    a, b = w["median"], p["median"]
    if key.startswith("loss"):
        if a == 0 and b == 0:
            return "= (0)"
        if b == 0:
            return f"+{a:.2f} pp"
    if b == 0:
        return "–"
    return f"×{a / b:.2f}"


def table(sections, header_note=""):
    """sections: list of (workload, results dict keyed by server, measures).
    One Markdown table; query workloads and bigzone have different columns, so bigzone
    rows put its measures in the first columns under their own header line."""
    out = []
    qcols = [h for _, h, _, _, _ in MEASURES]
    rcols = [f"warpdns ÷ peer: {k}" for k in ("qps", "CPU/ans", "p50", "p99", "loss")]
    if any(m is MEASURES for _, _, m in sections):
        out.append("| workload | server | " + " | ".join(qcols + rcols) + " |")
        out.append("|" + "---|" * (2 + len(qcols) + len(rcols)))
    for wl, results, measures in sections:
        if measures is not MEASURES:
            continue
        w = results.get("warpdns", {}).get("summary") if "warpdns" in results else None
        for key, res in results.items():
            row = [wl.key, res["label"]]
            if res["na"]:
                row += [res["na"]] + [""] * (len(qcols) + len(rcols) - 1)
            else:
                s = res["summary"]
                row += [cell(s.get(k), fmt) for k, _, _, fmt, _ in measures]
                if key == "warpdns" or not w:
                    row += ["–"] * len(rcols)
                else:
                    row += [ratio(w.get(k), s.get(k), k) for k in RATIO_KEYS]
            out.append("| " + " | ".join(row) + " |")
    for wl, results, measures in sections:
        if measures is REPLAY_MEASURES:
            if out:
                out.append("")
            out.append("| workload | setup | " + " | ".join(h for _, h, _, _, _ in measures) + " |")
            out.append("|" + "---|" * (2 + len(measures)))
            for key, res in results.items():
                row = [wl.key, res["label"]]
                if res["na"]:
                    row += [res["na"]] + [""] * (len(measures) - 1)
                else:
                    row += [cell(res["summary"].get(k), fmt) for k, _, _, fmt, _ in measures]
                out.append("| " + " | ".join(row) + " |")
    for wl, results, measures in sections:
        if measures is not VETH_MEASURES:
            continue
        if out:
            out.append("")
        vr = [f"warpdns ÷ peer: {k}" for k in ("saturation qps", "p50", "p99")]
        out.append("| workload | server | " + " | ".join([h for _, h, _, _, _ in measures] + vr) + " |")
        out.append("|" + "---|" * (2 + len(measures) + len(vr)))
        w = results.get(VETH_LEAD, {}).get("summary")
        for key, res in results.items():
            row = [wl.key, res["label"]]
            if res["na"]:
                row += [res["na"]] + [""] * (len(measures) + len(vr) - 1)
            else:
                s = res["summary"]
                row += [cell(s.get(k), fmt) for k, _, _, fmt, _ in measures]
                row += ["–"] * len(vr) if key == VETH_LEAD or not w else \
                    [ratio(w.get(k), s.get(k), k) for k in VETH_RATIO_KEYS]
            out.append("| " + " | ".join(row) + " |")
    big = [x for x in sections if x[2] is BIG_MEASURES]
    for wl, results, measures in big:
        if out:
            out.append("")
        bcols = [h for _, h, _, _, _ in measures]
        brcols = [f"warpdns ÷ peer: {h.split(' ')[0]}" for h in ("load", "memory", "peak")]
        out.append("| workload | server | " + " | ".join(bcols + brcols) + " |")
        out.append("|" + "---|" * (2 + len(bcols) + len(brcols)))
        w = results.get("warpdns", {}).get("summary") if "warpdns" in results else None
        for key, res in results.items():
            row = [wl.key, res["label"]]
            if res["na"]:
                row += [res["na"]] + [""] * (len(bcols) + len(brcols) - 1)
            else:
                s = res["summary"]
                row += [cell(s.get(k), fmt) for k, _, _, fmt, _ in measures]
                if key == "warpdns" or not w:
                    row += ["–"] * len(brcols)
                else:
                    row += [ratio(w.get(k), s.get(k), k) for k, _, _, _, _ in measures]
            out.append("| " + " | ".join(row) + " |")
    if header_note:
        out.insert(0, header_note)
    return "\n".join(out)
