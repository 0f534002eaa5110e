#!/usr/bin/env bash
# bench-smoke.sh: make test's end-to-end check of the bench pipeline, so that
# make bench and make nightly never rot. bench.mk copies it to
# build/VARIANT/tests/test_bench_smoke; scripts/run-tests.sh runs it with
# RB_BUILD (build directory) and RB_TEST_DATA (data directory) set.
#
# In a temporary directory under the build directory: a 1-rep sweep of
# stories260K (F32 and Q4_0, two modes, complete + perplexity) through the
# real rbench and minillm; rbench compare of the run with itself; the
# reclaim-dropping wrapper; baseline.sh's stripped copy still compares;
# hyperfine.sh, plots.sh and report.md (when hyperfine, gnuplot and jq are
# installed; else those checks are skipped and say so). About 10 s.
# Prints "test_bench_smoke: N passed, N failed, N skipped"; exit 1 on failure.
set -u
root=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$root/scripts/bench-lib.sh" ] || root=$(pwd)
cd "$root" || exit 1
build=${RB_BUILD:-build/release}
data=${RB_TEST_DATA:-build/data}
export BUILD=$build DATA_DIR=$data LC_ALL=C
rbench=$build/rbench
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
skipped() { skip=$((skip + 1)); echo "skipped: $*"; }
check() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

tmp=$(mktemp -d "$build/bench-smoke.XXXXXX") || exit 1
export RB_RESULTS=$tmp/results RB_MACHINE_CLASS=smoke
mkdir -p "$RB_RESULTS"
cat >"$tmp/smoke.sweep" <<'EOF'
engine   minillm
model    stories260K
quant    f32 q4_0
mode     mmap mmap+reclaim
workload complete   prompt="Once upon a time" n=8
workload perplexity file=tinystories_val_sample.txt ctx=64 chunks=1
threads  2
reps     1
timeout  120
EOF
run=$RB_RESULTS/run

"$rbench" run "$tmp/smoke.sweep" --results "$RB_RESULTS" --name run --cache-dir "$tmp/cache" \
    --data-dir "$data" --no-history --quiet --progress plain >"$tmp/run.log" 2>&1
rc=$?
check "1-rep sweep exits 0 (log: $tmp/run.log)" [ $rc = 0 ]
n_ok=$(grep -c '"type":"run".*"status":"ok"' "$run/runs.jsonl" 2>/dev/null)
check "8 runs ok (got ${n_ok:-0})" [ "${n_ok:-0}" = 8 ]
check "no identity differences" [ "$(grep -c '"identity":"differs"' "$run/runs.jsonl" 2>/dev/null)" = 0 ]
"$rbench" compare "$run" "$run" --no-time-gate >"$tmp/self.txt" 2>&1
check "rbench compare of the run with itself exits 0" [ $? = 0 ]

# The wrapper keeps every argument but the reclaim flags.
got=$(RB_REAL_MINILLM=/bin/echo scripts/noreclaim-minillm.sh complete -m M --reclaim dontneed \
      --reclaim-at end --reclaim=evict --reclaim-mmap-source -t 2)
check "noreclaim-minillm.sh drops the reclaim flags (got '$got')" [ "$got" = "complete -m M -t 2" ]

if command -v jq >/dev/null; then
    scripts/baseline.sh "$run" >"$tmp/baseline.log" 2>&1
    base=$RB_RESULTS/baselines/smoke
    check "baseline.sh writes $base" [ -f "$base/runs.jsonl" ]
    check "the baseline holds no local paths" [ "$(grep -c "$root\|\"argv\"" "$base/runs.jsonl")" = 0 ]
    "$rbench" compare "$base" "$run" --no-time-gate >"$tmp/base.txt" 2>&1
    check "rbench compare of the stripped baseline with the run exits 0" [ $? = 0 ]
else
    skipped "baseline.sh (jq is missing: apt-get install jq)"
fi

if command -v hyperfine >/dev/null && command -v jq >/dev/null; then
    RB_HYPERFINE_RUNS=2 RB_HYPERFINE_WARMUP=0 scripts/hyperfine.sh "$run" >"$tmp/hyperfine.log" 2>&1
    check "hyperfine.sh times both modes" [ "$(wc -l <"$run/hyperfine.csv" 2>/dev/null)" = 3 ]
else
    skipped "hyperfine.sh (hyperfine or jq missing: apt-get install hyperfine jq)"
fi

if command -v gnuplot >/dev/null && command -v jq >/dev/null; then
    scripts/plots.sh "$run" >"$tmp/plots.log" 2>&1
    check "plots.sh exits 0 (log: $tmp/plots.log)" [ $? = 0 ]
    for p in peak_rss rss_timeline ppl; do
        check "plot $p.png and $p.svg are drawn" test -s "$run/plots/$p.png" -a -s "$run/plots/$p.svg"
    done
    check "report.md has the summary table" grep -q '^| stories260K | q4_0 | mmap+reclaim |' "$run/report.md"
else
    skipped "plots.sh (gnuplot or jq missing: apt-get install gnuplot-nox jq)"
fi

[ $fail = 0 ] && rm -rf "$tmp"
echo "test_bench_smoke: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
