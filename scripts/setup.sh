#!/usr/bin/env bash
# setup.sh: make sure this machine has every program, header and library the
# project needs, and install what is missing from Debian's archive.
#
#   scripts/setup.sh [--check] [--quiet] [GROUP...]      (also: make deps)
#
# GROUP is one or more of:
#   build     compilers, make, jansson, xxhash, cmocka, Google Benchmark
#   test      build + what `make test` drives (jq, gnuplot, hyperfine, time, python3)
#   bench     the same as test (make bench)
#   ci        test + clang with libFuzzer, valgrind (what .ci/run needs)
#   llamacpp  npm, git, cmake, tar (scripts/get-llamacpp.sh)
#   all       every group
# Default: test. Libraries are checked by a one-line compile probe, programs by
# running them, not by `command -v` alone.
#
# What is missing is installed with apt-get: directly as root, through sudo
# when it works without a password prompt, otherwise the one exact command is
# printed and the script exits 2. --check only reports (exit 1 when something
# is missing). When nothing is missing it prints nothing and exits 0; it takes
# well under a second. The package list below is the only one: .ci/run, make
# test and make bench all call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0
groups=()
while [ $# -gt 0 ]; do
    case "$1" in
    --check) check_only=1 ;;
    --quiet) ;; # quiet is the default when nothing is missing
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    build|test|bench|ci|llamacpp|all) groups+=("$1") ;;
    *) echo "setup.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#groups[@]} -gt 0 ] || groups=(test)

CC=${CC:-cc}
CXX=${CXX:-c++}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rb-setup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- probes: each returns 0 when the thing works ---------------------------
have_prog() { command -v "$1" >/dev/null 2>&1; }

# probe_c LIB HEADER: a program that includes HEADER and links -lLIB.
probe_c() {
    printf '#include <stddef.h>\n#include <stdarg.h>\n#include <setjmp.h>\n#include <stdint.h>\n#include <%s>\nint main(void) { return 0; }\n' "$2" \
        >"$tmp/p_$1.c"
    "$CC" -o "$tmp/p_$1" "$tmp/p_$1.c" "-l$1" >/dev/null 2>&1
}
probe_benchmark() {
    printf '#include <benchmark/benchmark.h>\nint main() { return 0; }\n' >"$tmp/p_bm.cc"
    "$CXX" -std=c++17 -fsyntax-only "$tmp/p_bm.cc" >/dev/null 2>&1 &&
        printf 'int main() { return 0; }\n' >"$tmp/p_bml.cc" &&
        "$CXX" -o "$tmp/p_bml" "$tmp/p_bml.cc" -Wl,--no-as-needed -lbenchmark -lpthread >/dev/null 2>&1
}
probe_libfuzzer() {
    have_prog clang || return 1
    printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
        >"$tmp/p_fz.c"
    clang -fsanitize=fuzzer,address,undefined -o "$tmp/p_fz" "$tmp/p_fz.c" >/dev/null 2>&1
}
probe_time() { [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; }

# --- the one package list: "group package probe..." ------------------------
# A probe is prog:NAME, pc:MODULE (pkg-config knows it), lib:LIB:HEADER (a
# compile-and-link probe), or fn:FUNCTION. For a pc: probe, the compile probe
# of the same line runs only when pkg-config does not know the module.
table='
build build-essential  prog:cc prog:make
build g++              prog:c++
build pkg-config       prog:pkg-config
build libjansson-dev   pc:jansson lib:jansson:jansson.h
build libxxhash-dev    pc:libxxhash lib:xxhash:xxhash.h
build libcmocka-dev    pc:cmocka lib:cmocka:cmocka.h
build libbenchmark-dev pc:benchmark fn:probe_benchmark
test  python3          prog:python3
test  jq               prog:jq
test  gnuplot-nox      prog:gnuplot
test  hyperfine        prog:hyperfine
test  time             fn:probe_time
test  ca-certificates  prog:update-ca-certificates
test  curl             prog:curl
test  unzip            prog:unzip
ci    clang            prog:clang
ci    libclang-rt-14-dev fn:probe_libfuzzer
ci    valgrind         prog:valgrind
llamacpp npm           prog:npm
llamacpp git           prog:git
llamacpp cmake         prog:cmake
llamacpp tar           prog:tar
'

wanted() { # wanted GROUP: is a package of GROUP needed by the groups asked for?
    local g
    for g in "${groups[@]}"; do
        case "$g:$1" in
        all:*|"$1":*|test:build|bench:build|bench:test|ci:build|ci:test) return 0 ;;
        esac
    done
    return 1
}

check() {
    local p
    for p in "$@"; do
        case "$p" in
        pc:*) have_prog pkg-config && pkg-config --exists "${p#pc:}" && return 0 ;;
        prog:*) have_prog "${p#prog:}" || return 1 ;;
        lib:*) p=${p#lib:}; probe_c "${p%%:*}" "${p#*:}" || return 1 ;;
        fn:*) "${p#fn:}" || return 1 ;;
        esac
    done
}

missing_pkgs() {
    local group pkg probes
    while read -r group pkg probes; do
        [ -n "$group" ] || continue
        wanted "$group" || continue
        # shellcheck disable=SC2086
        check $probes || echo "$pkg"
    done <<<"$table"
}

missing=$(missing_pkgs | sort -u | tr '\n' ' ')
missing=${missing% }
[ -n "$missing" ] || exit 0

echo "setup: missing on this machine: $missing" >&2
cmd="apt-get update && apt-get install -y --no-install-recommends $missing"
if [ $check_only = 1 ]; then
    echo "setup: install them with: sudo sh -c '$cmd'" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif have_prog sudo && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "setup: not root and sudo asks for a password; run this once, then again:" >&2
    echo "    sudo sh -c '$cmd'" >&2
    exit 2
fi
have_prog apt-get || { echo "setup: no apt-get here; install the Debian packages $missing (or their equivalents)" >&2; exit 2; }
echo "setup: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >&2 || echo "setup: apt-get update failed; trying the install anyway" >&2
# shellcheck disable=SC2086
"${sudo[@]}" apt-get install -y -q --no-install-recommends $missing >&2 ||
    { echo "setup: apt-get install failed" >&2; exit 2; }
still=$(missing_pkgs | sort -u | tr '\n' ' ')
[ -z "${still% }" ] || { echo "setup: still missing after the install: $still" >&2; exit 2; }
echo "setup: done" >&2
