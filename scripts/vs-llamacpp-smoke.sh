#!/usr/bin/env bash
# vs-llamacpp-smoke.sh: make test's check of scripts/vs-llamacpp.sh, without
# llama.cpp: the script runs on stories260K with the real minillm and fake
# llama.cpp tools, and must report figures when they work and fail, saying
# which tool and how, when one crashes (a crashed engine must never pass for a
# fast one). bench.mk copies it to build/VARIANT/tests/test_vs_llamacpp;
# scripts/run-tests.sh runs it with RB_BUILD and RB_TEST_DATA set. A few
# seconds. Prints "test_vs_llamacpp: N passed, N failed"; exit 1 on failure.
set -u
root=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$root/scripts/vs-llamacpp.sh" ] || root=$(pwd)
cd "$root" || exit 1
build=${RB_BUILD:-build/release}
data=${RB_TEST_DATA:-build/data}
model=$data/stories260K.gguf
export LC_ALL=C MINILLM=$build/minillm
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
[ -f "$model" ] || { echo "test_vs_llamacpp: no $model (make data)"; exit 1; }
tmp=$(mktemp -d "$build/vs-smoke.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# fakes: a llama-bench that prints the CSV columns the script reads, one that
# dies of SIGSEGV, a llama-completion that works and one that exits 3
cat >"$tmp/lb-ok" <<'SH'
#!/bin/sh
echo '"build_commit","n_prompt","n_gen","avg_ts"'
echo '"fake","128","0","100.000000"'
echo '"fake","0","32","20.000000"'
SH
printf '#!/bin/sh\necho "loading" >&2\nkill -SEGV $$\n' >"$tmp/lb-crash"
printf '#!/bin/sh\necho fake\n' >"$tmp/lc-ok"
printf '#!/bin/sh\necho "cannot open the model" >&2\nexit 3\n' >"$tmp/lc-bad"
chmod +x "$tmp"/lb-* "$tmp"/lc-*

run() { # run NAME [VAR=VALUE...]: vs-llamacpp.sh, 2 rounds; stdout, stderr, status in $tmp/NAME.*
    local name=$1
    shift
    env "$@" scripts/vs-llamacpp.sh "$model" 2 2 >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
}
has() { grep -q -- "$2" "$tmp/$1"; }

run alone
if [ "$(cat "$tmp/alone.rc")" = 0 ] && has alone.out "identity: every round gave pp128 hash" &&
    has alone.out "streaming ceiling"; then ok "minillm alone: figures, identity and ceiling lines"
else bad "minillm alone: $(cat "$tmp/alone.rc"), $(tail -n 3 "$tmp/alone.err")"; fi

run both LLAMA_BENCH="$tmp/lb-ok" LLAMA_COMPLETION="$tmp/lc-ok"
if [ "$(cat "$tmp/both.rc")" = 0 ] && has both.out "pp128" && has both.out "load" &&
    grep -q "llama-bench pp128 100.000000 tg32 20.000000" "$tmp/both.err"; then
    ok "beside a working llama.cpp: both engines' figures"
else bad "beside a working llama.cpp: $(cat "$tmp/both.rc"), $(tail -n 3 "$tmp/both.err")"; fi

run crash LLAMA_BENCH="$tmp/lb-crash"
if [ "$(cat "$tmp/crash.rc")" = 1 ] && has crash.err "lb-crash failed (killed by signal 11 (SIGSEGV))" &&
    has crash.err "loading"; then ok "a crashing llama-bench: named, with its signal and stderr"
else bad "a crashing llama-bench: $(cat "$tmp/crash.rc"), $(tail -n 3 "$tmp/crash.err")"; fi

run badload LLAMA_BENCH="$tmp/lb-ok" LLAMA_COMPLETION="$tmp/lc-bad"
if [ "$(cat "$tmp/badload.rc")" = 1 ] && has badload.err "lc-bad failed (exit 3)" &&
    has badload.err "cannot open the model"; then ok "a failing llama-completion: named, with its status"
else bad "a failing llama-completion: $(cat "$tmp/badload.rc"), $(tail -n 3 "$tmp/badload.err")"; fi

echo "test_vs_llamacpp: $pass passed, $fail failed"
[ $fail = 0 ]
