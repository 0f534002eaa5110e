#!/usr/bin/env bash
# run-tests.sh BUILD DATA_DIR TEST... : run each test binary with the test data
# directory in RB_TEST_DATA and the build directory in RB_BUILD; print one
# closing line "N passed, N failed" and exit non-zero if any test failed.
set -u
build=$1; data=$2; shift 2
export RB_BUILD="$build" RB_TEST_DATA="$data" LC_ALL=C
pass=0; fail=0; failed=()
for t in "$@"; do
    echo "== $t"
    if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$t"); fi
done
[ $fail = 0 ] || printf 'FAILED: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
