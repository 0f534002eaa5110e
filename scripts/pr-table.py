#!/usr/bin/env python3
"""pr-table.py RUN_DIR: the llama.cpp PR #24156 table from an rbench run of
harness/sweeps/pr24156.sweep, with the PR's own figures beside ours.

Reads RUN_DIR/summary.csv (medians per case) and RUN_DIR/runs.jsonl (the
engine's memory report: the repack buffer). Prints Markdown; exits 1 when a
row fails its checks (identity, saving >= 0.99 x repack, and reclaim reads
back from disk less than 1 % of the repack buffer: a few major faults of a
"warm" run come from pages the machine evicted between runs, not from the
reclaim, so faults are shown but the bytes read are what is checked)."""
import csv
import json
import sys

PR = {  # the PR's and the reference's figures (GiB)
    "llama-3.2-3b": ("Llama-3.2-3B Q4_0 (PR)", 3.73, 2.30, 1.47),
    "olmoe-1b-7b": ("DeepSeek-V2-Lite Q4_K_M (PR) / Qwen3-30B-A3B Q4_K_M (PR)", "16.19 / ~34", "10.75 / ~21", None),
}
GIB = 1024.0


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = sys.argv[1]
    rows = list(csv.DictReader(open(f"{d}/summary.csv")))
    repack = {}
    for line in open(f"{d}/runs.jsonl"):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        mr = r.get("mem_report") or {}
        plan = mr.get("plan") if isinstance(mr, dict) else None
        if plan and plan.get("repacked_bytes"):
            repack[r.get("model")] = plan["repacked_bytes"]
    by = {}
    for r in rows:
        by.setdefault(r["model"], {})[r["mode"]] = r
    ok = True
    print("| model | quant | peak OFF (GiB) | peak ON (GiB) | repack buffer (GiB) | saving / repack | "
          "majflt OFF/ON | read MiB OFF/ON | identity | PR: OFF → ON (repack) |")
    print("|---|---|---:|---:|---:|---:|---|---|---|---|")
    for model, modes in by.items():
        off, on = modes.get("mmap"), modes.get("mmap+reclaim")
        if not off or not on:
            continue
        p_off = float(off["maxrss_mib_median"]) / GIB
        p_on = float(on["maxrss_mib_median"]) / GIB
        rb = repack.get(model, 0) / 2**30
        ratio = (p_off - p_on) / rb if rb else 0.0
        ident = all(m["identity"] == "pass" for m in modes.values())
        maj = f'{off["majflt_median"]}/{on["majflt_median"]}'
        key = next((k for k in PR if k in model), None)
        pr = PR.get(key)
        prs = f"{pr[1]} → {pr[2]}" + (f" ({pr[3]})" if pr and pr[3] else "") if pr else ""
        rd = f'{float(off["read_mib_median"]):.1f}/{float(on["read_mib_median"]):.1f}'
        row_ok = ident and ratio >= 0.99 and float(on["read_mib_median"]) < 0.01 * rb * GIB
        ok &= row_ok
        print(f"| {model} | {off['quant']} | {p_off:.3f} | {p_on:.3f} | {rb:.3f} | {ratio:.3f} | {maj} | {rd} | "
              f"{'pass' if ident else 'FAIL'} | {prs} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
