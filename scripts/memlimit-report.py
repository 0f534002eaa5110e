#!/usr/bin/env python3
"""memlimit-report.py: the table and plot data of `rbench limit` directories.

    scripts/memlimit-report.py DIR... [--plot-dir PLOTDIR]

Reads each DIR's minlimit.csv and probes.jsonl (written by `rbench limit`) and
prints one Markdown table: per case, the smallest limit at which it completed,
its unconstrained cgroup peak and RSS peak, and the cost at the minimum (wall
time against the unconstrained run's, major faults, bytes read). With
--plot-dir, writes for plots/memlimit.gp one data file per model and cache
state (memlimit-MODEL-CACHE.dat: one block per engine+mode, rows of limit_mib
wall_s read_mib of every probe that completed, sorted by limit) and the
unconstrained points (...-peaks.dat), plus series.txt naming the blocks.
Under the table, OFF against ON per model, cache and engine family: whether
reclaim lowers the smallest limit beyond the search's tolerance.
Exit 0; 1 when some case found no minimum (listed under the table).
"""
import csv
import json
import os
import sys


def label(row):
    eng = {"minillm": "minillm", "stock": "llama.cpp", "pr": "llama.cpp+PR"}.get(row["engine"], row["engine"])
    return eng, row["mode"]


def main(argv):
    dirs, plot_dir = [], None
    i = 0
    while i < len(argv):
        if argv[i] == "--plot-dir":
            plot_dir = argv[i + 1]
            i += 2
            continue
        dirs.append(argv[i])
        i += 1
    if not dirs:
        sys.stderr.write(__doc__)
        return 2
    rows, probes = [], []
    for d in dirs:
        with open(os.path.join(d, "minlimit.csv"), newline="") as f:
            rows += list(csv.DictReader(f))
        with open(os.path.join(d, "probes.jsonl")) as f:
            probes += [json.loads(line) for line in f if line.strip()]
    print("| model | cache | engine | mode | unconstrained: cgroup peak | RSS peak | wall | **smallest limit** "
          "| at it: wall | major faults | read | probes |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    missing = []
    for r in rows:
        eng, mode = label(r)
        model = r["model"].replace("gen:", "")
        found = r["verdict"] == "found"
        if not found:
            missing.append(f"{model} {r['cache']} {eng} {mode}: {r['verdict']}")
        print(f"| {model} | {r['cache']} | {eng} | {mode} | {float(r['peak_mib']):.0f} MiB | "
              f"{float(r['rss_peak_mib']):.0f} MiB | {float(r['ref_wall_s']):.2f} s | "
              + (f"**{float(r['min_limit_mib']):.0f} MiB** | {float(r['wall_at_min_s']):.2f} s | "
                 f"{int(r['majflt_at_min'])} | {float(r['read_mib_at_min']):.0f} MiB"
                 if found else f"– | – | – | –")
              + f" | {r['probes']} |")
    if missing:
        print("\nNo minimum found: " + "; ".join(missing))
    # OFF against ON, per model, cache and engine family (llama.cpp's ON is
    # the PR build's): does reclaim lower the smallest limit?
    found = {}
    for r in rows:
        if r["verdict"] == "found":
            fam = "minillm" if r["engine"] == "minillm" else "llama.cpp"
            found[(r["model"].replace("gen:", ""), r["cache"], fam, r["mode"])] = r
    lines = []
    for (model, cache, fam, mode), off in sorted(found.items()):
        on = found.get((model, cache, fam, "mmap+reclaim"))
        if mode != "mmap" or not on:
            continue
        a, b = float(off["min_limit_mib"]), float(on["min_limit_mib"])
        tol = max(8.0, 0.01 * max(a, b))
        verdict = ("the same within the search's tolerance" if abs(a - b) <= tol
                   else "lower with reclaim" if b < a else "higher with reclaim")
        lines.append(f"- {model}, {cache} cache, {fam}: smallest limit OFF {a:.0f} MiB, ON {b:.0f} MiB: {verdict} "
                     f"(±{tol:.0f} MiB); unconstrained cgroup peak {float(off['peak_mib']):.0f} vs "
                     f"{float(on['peak_mib']):.0f} MiB, RSS peak {float(off['rss_peak_mib']):.0f} vs "
                     f"{float(on['rss_peak_mib']):.0f} MiB")
    if lines:
        print("\nReclaim under a limit (mmap OFF against mmap+reclaim ON):\n" + "\n".join(lines))
    if plot_dir:
        os.makedirs(plot_dir, exist_ok=True)
        groups = {}
        for p in probes:
            if p.get("type") != "probe":
                continue
            key = (p["model"].replace("gen:", ""), p["cache"])
            eng = {"minillm": "minillm", "stock": "llama.cpp", "pr": "llama.cpp+PR"}.get(p["engine"], p["engine"])
            groups.setdefault(key, {}).setdefault(f"{eng} {p['mode']}", []).append(p)
        names = []
        for (model, cache), series in sorted(groups.items()):
            base = os.path.join(plot_dir, f"memlimit-{model}-{cache}")
            names.append(f"{model}-{cache}")
            with open(base + ".dat", "w") as f, open(base + "-peaks.dat", "w") as g, \
                    open(base + ".series", "w") as s:
                for k, (name, ps) in enumerate(sorted(series.items())):
                    s.write(name.replace(" ", "_") + "\n")
                    if k:
                        f.write("\n\n")
                        g.write("\n\n")
                    ok = sorted((x for x in ps if x["status"] == "ok" and x["limit_bytes"] > 0),
                                key=lambda x: x["limit_bytes"])
                    for x in ok:
                        f.write(f"{x['limit_mib']:.1f} {x['wall_s']:.3f} {max(x['read_bytes'], 0) / 1048576:.1f}\n")
                    ref = [x for x in ps if x["phase"] == "reference" and x["status"] == "ok"]
                    for x in ref[:1]:
                        g.write(f"{x['cgroup_peak_bytes'] / 1048576:.1f} {x['wall_s']:.3f} "
                                f"{max(x['read_bytes'], 0) / 1048576:.1f}\n")
                    if not ok:
                        f.write("NaN NaN NaN\n")
                    if not ref:
                        g.write("NaN NaN NaN\n")
        with open(os.path.join(plot_dir, "memlimit-panels.txt"), "w") as f:
            f.write(" ".join(names) + "\n")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
