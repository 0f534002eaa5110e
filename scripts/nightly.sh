#!/usr/bin/env bash
# nightly.sh: what `make nightly` (and each shard of the scheduled CI job) runs:
# an A/B benchmark of HEAD against a BASE commit, both built and measured
# interleaved on this machine, in one sweep (docs/BENCH.md, "The nightly").
#
#   scripts/nightly.sh [--shard I/N] [--name NAME]
#   scripts/nightly.sh --gate DIR        gate a finished (e.g. merged) run dir
#
#   1. BASE = $BASE (any git revision), else the commit recorded beside the
#      baseline (results/baselines/<class>/BASE_COMMIT, else the git_commit of
#      its runs.jsonl meta line). It is built in a git worktree under
#      build/nightly-base (reused while it stays at that commit).
#   2. harness/sweeps/nightly.sweep runs HEAD and BASE interleaved: each case
#      and rep in a seeded random order (rbench run).
#   3. Gates:
#      - rbench compare --paired base head: time by per-pair ratios (fails on a
#        slowdown above 5 % whose interval excludes no change), peak RSS and
#        major faults directly, and byte identity of HEAD and BASE (logits
#        included: digest=on);
#      - rbench compare against the stored baseline for what does not depend on
#        the machine's speed: peak RSS, perplexity, identity (--no-time-gate).
#
# Environment:
#   BASE=REV                  the commit to compare against
#   RB_ACCEPT_OUTPUT_CHANGE=1 a deliberate output change: BASE gets its own
#                             identity class, so HEAD's bytes are not required
#                             to equal BASE's (time and memory still gated)
#   RB_DISABLE_RECLAIM=1      HEAD runs without its reclaim flags (the sabotage
#                             knob: the memory gate must fire)
#   RB_HEAD_ENV="K=V ..."     extra environment for HEAD's runs only, e.g. the
#                             test knobs MINILLM_TEST_SLOWDOWN_PCT=10 or
#                             MINILLM_TEST_ULP=1 (docs/BENCH.md)
#   RB_NIGHTLY_SWEEP=FILE     another A/B sweep (engines base and head)
#   RB_REPS=N                 override the sweep's reps
# Exit: 0 no regression; 1 a regression (named) or a failed run; 2 could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

shard=()
name=nightly-$(stamp)
gate_dir=""
while [ $# -gt 0 ]; do
    case "$1" in
    --shard) shard=(--shard "$2"); name=$name-shard${2%%/*}; shift ;;
    --name) name=$2; shift ;;
    --gate) gate_dir=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

# ---- the gates: paired A/B, then the stored baseline's deterministic figures
gate() {
    local dir=$1 prc=0 brc=0 base
    echo "== nightly: paired A/B (rbench compare --paired base head)"
    "$RBENCH" compare --paired base head "$dir" --md "$dir/paired.md" >"$dir/paired.txt" 2>&1 || prc=$?
    tail -n 1 "$dir/paired.txt"
    [ $prc != 1 ] || grep -F '**REGRESSION**' "$dir/paired.md" | sed -n '1,20s/^/  /p'
    [ $prc -le 1 ] || sed -n '1,20s/^/  /p' "$dir/paired.txt"
    base=$(baseline_dir)
    if [ -n "$base" ]; then
        echo "== nightly: HEAD against the stored baseline $base (memory, perplexity, identity; no time)"
        "$RBENCH" compare "$base" "$dir" --new-engine head --no-time-gate --common-only \
            --md "$dir/baseline-compare.md" >"$dir/baseline-compare.txt" 2>&1 || brc=$?
        tail -n 1 "$dir/baseline-compare.txt"
        [ $brc != 1 ] || regressions "$dir/baseline-compare.md" | sed -n '1,20s/^/  /p'
    else
        echo "== nightly: no stored baseline for $(machine_class); the paired gate alone"
    fi
    local n_bad
    n_bad=$(jq -s '[ .[] | select(.type == "run" and .status != "ok" and .status != "skipped"
                                  and .status != "incomplete") ] | length' "$dir/runs.jsonl")
    [ "$n_bad" = 0 ] || echo "nightly: $n_bad runs failed (see $dir/summary.md)"
    if [ $prc = 2 ] || [ $brc = 2 ]; then
        echo "nightly: COULD NOT COMPARE ($dir)"
        return 2
    fi
    if [ $prc = 1 ] || [ $brc = 1 ] || [ "$n_bad" != 0 ]; then
        echo "nightly: FAIL: $dir/paired.md${base:+, $dir/baseline-compare.md}"
        return 1
    fi
    echo "nightly: PASS ($dir)"
    return 0
}

[ -x "$RBENCH" ] && [ -x "$MINILLM" ] || die "$RBENCH or $MINILLM missing: run make first"
if [ -n "$gate_dir" ]; then
    [ -f "$gate_dir/runs.jsonl" ] || die "--gate $gate_dir: no runs.jsonl there"
    gate "$gate_dir"
    exit $?
fi

# ---- 1. BASE, built in a worktree
base_rev=${BASE:-}
bl=$RB_RESULTS/baselines/$(machine_class)
if [ -z "$base_rev" ] && [ -f "$bl/BASE_COMMIT" ]; then
    base_rev=$(tr -d ' \n' <"$bl/BASE_COMMIT")
fi
if [ -z "$base_rev" ] && [ -f "$bl/runs.jsonl" ]; then
    base_rev=$(jq -r 'select(.type == "meta") | .git_commit // empty' "$bl/runs.jsonl" | awk 'NR == 1')
fi
[ -n "$base_rev" ] || die "no BASE: set BASE=<rev>, or bless a baseline (make baseline) that records its commit"
base_commit=$(git rev-parse --verify --quiet "$base_rev^{commit}") ||
    die "BASE $base_rev is not a commit of this repository (a shallow clone? fetch its history)"
wt=build/nightly-base
if [ -d "$wt" ] && [ "$(git -C "$wt" rev-parse HEAD 2>/dev/null)" != "$base_commit" ]; then
    git worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
    git worktree prune
fi
if [ ! -d "$wt" ]; then
    echo "== nightly: BASE ${base_commit:0:12} into $wt"
    git worktree add --force --detach "$wt" "$base_commit" >/dev/null
fi
echo "== nightly: building BASE ${base_commit:0:12} (log: $wt.build.log)"
make -C "$wt" --no-print-directory VARIANT=release build/release/minillm >"$wt.build.log" 2>&1 ||
    { tail -n 20 "$wt.build.log"; die "BASE ${base_commit:0:12} does not build"; }

# ---- 2. one wrapper per build (the same exec cost for both), the sweep, the run
nd=build/nightly
mkdir -p "$nd"
abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
real_base=$(abs "$wt/build/release/minillm")
real_head=$(abs "$MINILLM")
write_wrapper() { # FILE ENV-ASSIGNMENTS COMMAND
    local f=$1 envs=$2 cmd=$3
    { echo '#!/bin/sh'; echo "exec env $envs '$cmd' \"\$@\""; } >"$f.tmp"
    chmod +x "$f.tmp"
    mv "$f.tmp" "$f"
}
write_wrapper "$nd/base-minillm" "" "$real_base"
head_envs=${RB_HEAD_ENV:-}
if [ "${RB_DISABLE_RECLAIM:-0}" = 1 ]; then
    say "RB_DISABLE_RECLAIM=1: HEAD runs without its reclaim flags (a deliberate regression)"
    write_wrapper "$nd/head-minillm" "$head_envs RB_REAL_MINILLM=$real_head" "$(pwd)/scripts/noreclaim-minillm.sh"
else
    write_wrapper "$nd/head-minillm" "$head_envs" "$real_head"
fi
[ -z "$head_envs" ] || say "RB_HEAD_ENV: HEAD runs with $head_envs"
export RB_BASE_MINILLM RB_HEAD_MINILLM
RB_BASE_MINILLM=$(pwd)/$nd/base-minillm
RB_HEAD_MINILLM=$(pwd)/$nd/head-minillm

sweep=${RB_NIGHTLY_SWEEP:-harness/sweeps/nightly.sweep}
if [ "${RB_ACCEPT_OUTPUT_CHANGE:-0}" = 1 ]; then
    say "RB_ACCEPT_OUTPUT_CHANGE=1: BASE is its own identity class; HEAD's output may differ from BASE's"
    sed 's/^\(engine[[:space:]]\{1,\}base[[:space:]].*\)$/\1 identity=base-output/' "$sweep" >"$nd/nightly.sweep"
    sweep=$nd/nightly.sweep
fi
echo "== nightly: $sweep, HEAD $(git rev-parse --short=12 HEAD) vs BASE ${base_commit:0:12} -> $RB_RESULTS/$name"
opts=(--quiet)
[ -z "${RB_REPS:-}" ] || opts+=(--reps "$RB_REPS")
[ -t 1 ] || opts+=(--progress plain)
rc=0
run_sweep "$sweep" "$name" "${shard[@]}" "${opts[@]}" || rc=$?
[ $rc -le 1 ] || die "rbench run could not run the sweep (exit $rc)"
dir=$RB_RESULTS/$name
printf '%s\n' "$base_commit" >"$dir/BASE_COMMIT"

# ---- 3. the gates
grc=0
gate "$dir" || grc=$?
[ $grc != 0 ] || ln -sfn "$name" "$RB_RESULTS/nightly-last"
exit $grc
