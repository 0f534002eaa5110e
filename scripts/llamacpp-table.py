#!/usr/bin/env python3
"""llamacpp-table.py RUN_DIR [--plot-data FILE]: llama.cpp PR #24156's table,
measured on llama.cpp itself, from an rbench run of harness/sweeps/llamacpp.sweep
(engines minillm, stock llama.cpp, llama.cpp + the PR).

Reads RUN_DIR/runs.jsonl (every run: peak RSS from wait4, faults, identity, the
per-mapping view from /proc/<pid>/smaps) and each llama.cpp run's stderr
(out/rNNNNN.err: the CPU_REPACK buffer size llama.cpp logs). Prints Markdown:

 1. the PR's table per model (completion, -c 4096): peak OFF (mmap) and ON
    (mmap+reclaim), the saving, the repack buffer, saving / repack, the
    no-repack floor, major faults, the model-file mapping's Rss at the peak,
    whether OFF/ON/no-mmap/mlock gave the same bytes and perplexity, and the
    PR's own figures;
 2. minillm's peak beside llama.cpp's in every mode both engines share;
 3. what the sweep could not measure (skipped, incomplete, failed runs).

--plot-data FILE writes "model engine mode peak_mib" rows for plots/engines.gp.
Exit 0 when every identity group that must pass passes and no run failed;
1 otherwise (named); 2 when RUN_DIR cannot be read."""
import json
import os
import re
import statistics
import sys

# The PR's table (GiB): real models on the PR author's machine.
PR = {
    "llama-3.2-3b": "Llama-3.2-3B Q4_0: 3.73 → 2.30 (−38 %), 0.973 × repack",
    "olmoe-1b-7b": "DeepSeek-V2-Lite Q4_K_M: 16.19 → 10.75 (−34 %); Qwen3-30B-A3B Q4_K_M: −37 %",
}
MODES = ["mmap", "mmap+reclaim", "read", "mlock", "no-repack"]
REPACK_RE = re.compile(r"CPU_REPACK model buffer size =\s*([0-9.]+) MiB")


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, spec=".1f", none="–"):
    return none if x is None else format(x, spec)


def load(run_dir):
    runs, meta = [], None
    with open(os.path.join(run_dir, "runs.jsonl"), encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith("\n"):
                break  # a torn last line is not a record
            try:
                r = json.loads(line)
            except ValueError as e:
                raise SystemExit(f"llamacpp-table: {run_dir}/runs.jsonl:{n}: {e}")
            if r.get("type") == "meta":
                meta = meta or r
            elif r.get("type") == "run":
                runs.append(r)
    return meta, runs


def repack_mib(run_dir, r):
    """The repack buffer of one run: minillm's plan, or llama.cpp's log line."""
    plan = (r.get("mem_report") or {}).get("plan") if isinstance(r.get("mem_report"), dict) else None
    if plan and "repacked_bytes" in plan:
        return plan["repacked_bytes"] / 2**20
    out = r.get("stdout")
    if not out:
        return None
    try:
        with open(os.path.join(run_dir, out[:-4] + ".err"), encoding="utf-8", errors="replace") as f:
            m = REPACK_RE.findall(f.read())
    except OSError:
        return None
    return sum(float(x) for x in m) if m else 0.0


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 0 if len(argv) >= 2 else 2
    run_dir, plot = argv[1], None
    if len(argv) == 4 and argv[2] == "--plot-data":
        plot = argv[3]
    try:
        meta, runs = load(run_dir)
    except OSError as e:
        print(f"llamacpp-table: {e}", file=sys.stderr)
        return 2
    engines = [e["name"] for e in (meta or {}).get("engines", [])] or sorted({r.get("engine", "") for r in runs})
    kind = {e["name"]: e["kind"] for e in (meta or {}).get("engines", [])}

    # cases: (model|quant, workload, engine, mode) -> runs
    cases = {}
    for r in runs:
        key = (f'{r["model"]}|{r["quant"]}', r["workload"], r.get("engine", ""), r["mode"])
        cases.setdefault(key, []).append(r)

    def ok_runs(k):
        return [r for r in cases.get(k, []) if r["status"] == "ok"]

    def fig(k, f):
        return med([r[f] / (1024 if f == "maxrss_kib" else 1) for r in ok_runs(k) if f in r])

    def smaps(k, which, field):
        xs = [r["smaps"][which][field] / 1024 for r in ok_runs(k) if (r.get("smaps") or {}).get(which, {}).get(field) is not None]
        return med(xs)

    models = []
    for (mq, _, _, _) in cases:
        if mq not in models:
            models.append(mq)
    problems = []
    for k, rs in cases.items():
        for r in rs:
            if r["status"] not in ("ok", "skipped", "incomplete"):
                problems.append(f'{"|".join(k)} rep {r["rep"]}: {r["status"]} {r.get("reason", "")}'.strip())
            if r.get("identity") in ("differs", "no-ref"):
                d = r.get("diff") or {}
                problems.append(f'{"|".join(k)} rep {r["rep"]}: identity {r["identity"]}'
                                + (f' at byte {d.get("offset")}: "{d.get("ref")}" vs "{d.get("new")}"' if d else ""))

    def identical(mq, eng):
        """Whether every run of this engine's identity class that must match did, both workloads."""
        wl = {w for (m, w, _, _) in cases if m == mq}
        seen = 0
        for w in wl:
            for mode in MODES:
                for r in ok_runs((mq, w, eng, mode)):
                    seen += 1
                    if r.get("identity") not in ("ref", "same"):
                        return "no"
        return "yes" if seen else "–"

    def repack_changes(mq, eng):
        vals = {r.get("repack_changes_output") for w in (complete_wl(mq), "perplexity")
                for r in ok_runs((mq, w, eng, "no-repack")) if "repack_changes_output" in r}
        return "changes" if True in vals else "same" if vals else "–"

    def complete_wl(mq):
        """The model's completion workload: complete (-c 4096), else complete-2k."""
        wls = sorted({w for (m, w, _, _) in cases if m == mq and w.startswith("complete")})
        return "complete" if "complete" in wls else (wls[0] if wls else "complete")

    print("## Peak RSS with reclaim off and on, per engine (completion: -c 4096, stories260K -c 2048; "
          "wait4 ru_maxrss, median)\n")
    print("| model | engine | peak OFF MiB | peak ON MiB | saving MiB | repack buffer MiB | saving / repack | "
          "no-repack floor MiB | ON − floor | majflt OFF/ON | model mapping Rss at peak OFF → ON MiB | "
          "identical (OFF, ON, no-mmap, mlock; ppl too) | no-repack output |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|")
    pdata = []
    for mq in models:
        wl = complete_wl(mq)
        for eng in engines:
            off, on, nr = (mq, wl, eng, "mmap"), (mq, wl, eng, "mmap+reclaim"), (mq, wl, eng, "no-repack")
            p_off, p_on, p_nr = fig(off, "maxrss_kib"), fig(on, "maxrss_kib"), fig(nr, "maxrss_kib")
            if p_off is None:
                continue
            rb = med([x for x in (repack_mib(run_dir, r) for r in ok_runs(off)) if x is not None])
            saving = p_off - p_on if p_on is not None else None
            ratio = saving / rb if saving is not None and rb else None
            maj = f'{fmt(fig(off, "majflt"), ".0f")}/{fmt(fig(on, "majflt"), ".0f")}'
            mm = f'{fmt(smaps(off, "peak", "top_file_rss_kib"), ".0f")} → {fmt(smaps(on, "peak", "top_file_rss_kib"), ".0f")}'
            on_cell = fmt(p_on) if p_on is not None else "skipped" if cases.get(on) else "–"
            print(f"| {mq} | {eng} | {fmt(p_off)} | {on_cell} | {fmt(saving)} | {fmt(rb, '.0f')} | "
                  f"{fmt(ratio, '.3f')} | {fmt(p_nr)} | {fmt(p_on - p_nr if p_on is not None and p_nr is not None else None, '+.1f')} | "
                  f"{maj} | {mm} | {identical(mq, eng)} | {repack_changes(mq, eng) if kind.get(eng) == 'llama.cpp' else 'same by design'} |")
            for mode in MODES:
                p = fig((mq, wl, eng, mode), "maxrss_kib")
                if p is not None:
                    pdata.append(f"{mq} {eng} {mode} {p:.1f}")
    pr_rows = [f"- {mq}-shaped: {PR[k]}" for mq in models for k in PR if mq.startswith(k)]
    if pr_rows:
        print("\nThe PR's own figures (real models, GiB):\n")
        print("\n".join(pr_rows))

    print("\n## The per-mapping view at each run's peak (/proc/<pid>/smaps, completion, first ok run)\n")
    print("| model | engine | mode | VmRSS MiB | model file Rss MiB | other files MiB | anonymous MiB | largest anonymous mappings (Rss MiB) |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for mq in models:
        wl = complete_wl(mq)
        for eng in engines:
            for mode in ("mmap", "mmap+reclaim", "no-repack"):
                rs = [r for r in ok_runs((mq, wl, eng, mode)) if (r.get("smaps") or {}).get("peak")]
                if not rs:
                    continue
                p = rs[0]["smaps"]["peak"]
                big = ", ".join(f'{a["rss_kib"] / 1024:.0f}' for a in p.get("largest_anon", []))
                print(f'| {mq} | {eng} | {mode} | {p["vm_rss_kib"] / 1024:.1f} | {p["top_file_rss_kib"] / 1024:.1f} | '
                      f'{(p["file_rss_kib"] - p["top_file_rss_kib"]) / 1024:.1f} | {p["anon_rss_kib"] / 1024:.1f} | {big} |')

    print("\n## minillm beside llama.cpp, every mode both run (completion, peak RSS MiB, median)\n")
    llama = [e for e in engines if kind.get(e) == "llama.cpp"]
    mini = [e for e in engines if kind.get(e) == "minillm"]
    if llama and mini:
        ref = llama[0]
        print(f"| model | mode | {mini[0]} | {ref} | difference |")
        print("|---|---|---:|---:|---:|")
        for mq in models:
            for mode in MODES:
                wl = complete_wl(mq)
                a, b = fig((mq, wl, mini[0], mode), "maxrss_kib"), fig((mq, wl, ref, mode), "maxrss_kib")
                if a is None or b is None:
                    continue
                print(f"| {mq} | {mode} | {a:.1f} | {b:.1f} | {100 * (a - b) / b:+.1f} % |")

    print("\n## Perplexity per engine (must be equal within an engine across modes)\n")
    print("| model | engine | PPL (mmap) | modes with the same perplexity text |")
    print("|---|---|---:|---|")
    for mq in models:
        for eng in engines:
            base = ok_runs((mq, "perplexity", eng, "mmap"))
            if not base:
                continue
            t0 = base[0].get("ppl_text")
            same = [m for m in MODES if ok_runs((mq, "perplexity", eng, m))
                    and all(r.get("ppl_text") == t0 for r in ok_runs((mq, "perplexity", eng, m)))]
            print(f"| {mq} | {eng} | {fmt(base[0].get('ppl'), '.4f')} | {' '.join(same)} |")

    skipped = sorted({f'{k[2]} {k[3]}: {r.get("reason", "")}' for k, rs in cases.items() for r in rs
                      if r["status"] == "skipped"})
    inc = sum(r["status"] == "incomplete" for rs in cases.values() for r in rs)
    retried = sum(r.get("attempts", 1) > 1 for rs in cases.values() for r in rs)
    print(f"\n{len(runs)} runs; {retried} retried after llama.cpp cut its output short, {inc} still incomplete "
          "(not counted); skipped by design:")
    for s in skipped:
        print(f"- {s}")
    if plot:
        with open(plot, "w") as f:
            f.write("\n".join(pdata) + "\n")
    if problems:
        print("\nFAILED:")
        for p in problems:
            print(f"- {p}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
