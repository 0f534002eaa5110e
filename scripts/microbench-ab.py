#!/usr/bin/env python3
"""microbench-ab.py: two microbench binaries, kernel by kernel, interleaved.

    scripts/microbench-ab.py BEFORE AFTER [--rounds N] [--filter RE]
                             [--min-time S] [--threshold R]

For every benchmark the filter selects (default: the kernel families
dequantize, dot, dot8, gemm, repack), each round runs that one benchmark in
BEFORE, then in AFTER (then AFTER first on the next round, so neither always
runs second), each a fresh process with --benchmark_min_time. Alternating per
benchmark, not per suite, keeps the two runs of a pair seconds apart, so
drift of a shared machine hits both alike.

Per benchmark it prints the ratio of the mean times (BEFORE / AFTER: above 1
means AFTER is faster), the median of the per-round ratios, and the ratio of
the fastest rounds (the least disturbed run of each). The exit code is 0 when
every benchmark's median round ratio is at least the threshold (default
0.98), else 1. Both binaries must list the same benchmarks.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

FAMILIES = r"^(dequantize|dot|dot8|gemm|repack)/"


def names(binary, pattern):
    out = subprocess.run([binary, "--benchmark_list_tests=true", "--benchmark_filter=" + pattern],
                         capture_output=True, text=True, check=True).stdout
    return [n for n in out.split() if "/" in n]


def one(binary, name, min_time, tmp):
    env = dict(os.environ, MB_TMPDIR=tmp)
    out = subprocess.run([binary, "--benchmark_filter=^" + re.escape(name) + "$",
                          "--benchmark_min_time=%g" % min_time, "--benchmark_format=json"],
                         capture_output=True, text=True, env=env, check=True).stdout
    doc, _ = json.JSONDecoder().raw_decode(out[out.index("{"):])  # a shim line may follow
    runs = [b for b in doc["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    if not runs:
        raise SystemExit("microbench-ab: %s printed no run of %s" % (binary, name))
    return runs[0]["real_time"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--filter", default=FAMILIES)
    ap.add_argument("--min-time", type=float, default=0.1)
    ap.add_argument("--threshold", type=float, default=0.98)
    a = ap.parse_args()
    for b in (a.before, a.after):
        if not os.access(b, os.X_OK):
            sys.exit("microbench-ab: not an executable: %s" % b)
    nb, na = names(a.before, a.filter), names(a.after, a.filter)
    if nb != na:
        sys.exit("microbench-ab: the binaries list different benchmarks (%d vs %d)" % (len(nb), len(na)))
    if not nb:
        sys.exit("microbench-ab: no benchmark matches %s" % a.filter)
    print("%d benchmarks x %d rounds, each pair interleaved" % (len(nb), a.rounds), file=sys.stderr)
    below = []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in nb:
            tb, ta = [], []
            for r in range(a.rounds):
                order = [(a.before, tb), (a.after, ta)]
                for binary, acc in (order if r % 2 == 0 else order[::-1]):
                    acc.append(one(binary, name, a.min_time, tmp))
            ratios = [x / y for x, y in zip(tb, ta)]
            mean_r = statistics.mean(tb) / statistics.mean(ta)
            med_r = statistics.median(ratios)
            best_r = min(tb) / min(ta)
            rows.append((name, mean_r, med_r, best_r, min(ratios), max(ratios)))
            if med_r < a.threshold:
                below.append(name)
            print("%-40s mean %.3f  median %.3f  fastest %.3f  rounds %.3f-%.3f" % rows[-1], flush=True)
    logs = [r[1] for r in rows]
    geo = 1.0
    for x in logs:
        geo *= x
    geo **= 1.0 / len(logs)
    print("geometric mean of the ratios of means: %.3f; %d of %d with median round ratio >= %.2f"
          % (geo, len(rows) - len(below), len(rows), a.threshold))
    if below:
        print("below: " + ", ".join(below))
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
