# bench-lib.sh: shell functions shared by bench.sh, nightly.sh, baseline.sh,
# plots.sh and hyperfine.sh (sourced, not run). Every script runs from the
# top of the checkout.
#
# Environment (all optional):
#   BUILD              build directory holding minillm and rbench (build/release)
#   DATA_DIR           where `make data` links the test data (build/data)
#   RB_RESULTS         results root (results)
#   RB_CACHE_DIR       cache outside the checkout (~/.cache/rbench); quantized
#                      and generated models go to $RB_CACHE_DIR/models
#   RB_MACHINE_CLASS   the baseline directory name (default: see machine_class)
#   RB_DISABLE_RECLAIM 1: run the engine through scripts/noreclaim-minillm.sh,
#                      which drops the reclaim flags (a deliberate regression)

BUILD=${BUILD:-build/release}
DATA_DIR=${DATA_DIR:-build/data}
RB_RESULTS=${RB_RESULTS:-results}
RB_CACHE_DIR=${RB_CACHE_DIR:-${HOME:-/tmp}/.cache/rbench}
RBENCH=$BUILD/rbench
MINILLM=$BUILD/minillm
export LC_ALL=C

say() { printf '%s\n' "$*" >&2; }
die() { say "$(basename "$0"): $*"; exit 2; }

# need TOOL:PACKAGE...: exit 2 naming the Debian packages of missing tools.
need() {
    local missing=() t
    for t in "$@"; do
        command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
    done
    [ ${#missing[@]} = 0 ] && return 0
    say "$(basename "$0"): missing tools; install them with:"
    say "    sudo apt-get install ${missing[*]}"
    exit 2
}

# The baseline directory name: what peak RSS and speed depend on, coarsely.
# Architecture, CPU count and whether the fast (AVX2) kernels run, e.g.
# x86_64-2cpu-avx2. RB_MACHINE_CLASS overrides it.
machine_class() {
    if [ -n "${RB_MACHINE_CLASS:-}" ]; then
        echo "$RB_MACHINE_CLASS"
        return
    fi
    local simd=scalar
    grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw f16c /proc/cpuinfo && simd=avx2
    echo "$(uname -m)-$(nproc)cpu-$simd"
}

# The committed baseline of this machine class, if there is one.
baseline_dir() {
    local d="$RB_RESULTS/baselines/$(machine_class)"
    [ -f "$d/runs.jsonl" ] && echo "$d"
    return 0
}

# Makes RB_MINILLM point at the reclaim-dropping wrapper when asked to.
engine_env() {
    if [ "${RB_DISABLE_RECLAIM:-0}" = 1 ]; then
        export RB_REAL_MINILLM
        RB_REAL_MINILLM=$(cd "$(dirname "$MINILLM")" && pwd)/$(basename "$MINILLM")
        export RB_MINILLM
        RB_MINILLM=$(pwd)/scripts/noreclaim-minillm.sh
        say "RB_DISABLE_RECLAIM=1: the engine runs without its reclaim flags (a deliberate regression)"
    fi
}

# run_sweep SWEEP NAME [rbench run options...]: one rbench run into
# $RB_RESULTS/NAME (results/latest points at it); returns rbench's status.
run_sweep() {
    local sweep=$1 name=$2
    shift 2
    "$RBENCH" run "$sweep" --results "$RB_RESULTS" --name "$name" \
        --cache-dir "$RB_CACHE_DIR/models" --data-dir "$DATA_DIR" "$@"
}

# UTC time stamp for run directory names.
stamp() { date -u +%Y%m%d-%H%M%S; }

# summary_table CASES_JSON WORKLOAD HYPERFINE_CSV: the markdown summary of one
# workload's cases (plots.sh writes CASES_JSON; HYPERFINE_CSV may be /dev/null).
summary_table() {
    jq -r --arg w "$2" --rawfile hf "$3" '
        def f1: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
        ($hf | split("\n") | .[1:] | map(select(length > 0) | gsub("\""; "") | split(","))
         | map({key: (.[0] + "|" + .[1]), value: "\(.[2] | tonumber | round) ± \(.[3] | tonumber | round)"})
         | from_entries) as $h
        | "| model | quant | mode | peak RSS MiB (min–max) | repacked MiB | reclaimed MiB | tokens/s | wall ms | hyperfine ms | identity |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
          (.[] | select(.workload == $w)
           | "| \(.model) | \(.quant) | \(.mode) | \(.rss_mib | f1) (\(.rss_min | f1)–\(.rss_max | f1)) | \(.repacked_mib | f1) | \(.reclaimed_mib | f1) | \(.tok_s | f1) | \(.wall_ms | if . then round else "-" end) | \($h[.group + "|" + .mode] // "-") | \(.identity) |")' "$1"
}

# prune_cache RUN_DIR: the model cache's names carry a digest of the engine
# binary, so every rebuild adds files (the 1B model is ~700 MB). Deletes the
# cached models this run did not use that are over a day old.
prune_cache() {
    local used f n=0
    [ -d "$RB_CACHE_DIR/models" ] || return 0
    used=$(jq -r 'select(.type == "run") | .argv // [] | .[(index(["-m"]) // -2) + 1] // empty' "$1/runs.jsonl" \
           | xargs -r -n1 basename | sort -u)
    while IFS= read -r f; do
        grep -qxF "$(basename "$f")" <<<"$used" && continue
        rm -f "$f" && n=$((n + 1))
    done < <(find "$RB_CACHE_DIR/models" -maxdepth 1 -type f -name '*.gguf' -mmin +1440)
    [ $n = 0 ] || echo "bench: pruned $n cached models over a day old that this run did not use"
}

# regressions COMPARE_MD: one line per regressing case, "case: reason", from
# rbench compare's markdown table (memory and identity before time).
regressions() {
    sed -n 's/^| \([^ ]*\) | .*\*\*REGRESSION\*\*: \(.*\) |$/\1: \2/p' "$1" | sed 's/\\|/|/g' \
        | awk '{ k = /wall time/ ? 1 : 0; print k "\t" $0 }' | sort -s -t$'\t' -k1,1 | cut -f2-
}
