#!/usr/bin/env bash
# get-llamacpp.sh: a CPU build of llama.cpp to measure minillm against, side by
# side (scripts/vs-llamacpp.sh) or in rbench sweeps (engine llama.cpp).
#
#   scripts/get-llamacpp.sh [DEST]
#
# The source comes from the npm registry: the package node-llama-cpp carries
# the llama.cpp release it binds as a git bundle (package/llama/gitRelease.bundle),
# so the build needs npm, not GitHub. Builds llama-bench, llama-perplexity and
# llama-completion (Release, -march=native, no curl) into DEST/build/bin and
# prints the environment lines that point the scripts at them.
#
# DEST defaults to $RB_CACHE_DIR/llama.cpp (RB_CACHE_DIR: ~/.cache/rbench).
# NODE_LLAMA_CPP_VERSION picks the package version (default 3.22.1, whose
# bundle is llama.cpp with ggml 0.25.1); JOBS the build's parallelism.
# A finished build in DEST is reused; delete DEST to build again.
set -euo pipefail
version=${NODE_LLAMA_CPP_VERSION:-3.22.1}
dest=${1:-${RB_CACHE_DIR:-$HOME/.cache/rbench}/llama.cpp}
jobs=${JOBS:-$(nproc)}
bins=(llama-bench llama-perplexity llama-completion)

say() { echo "get-llamacpp: $*" >&2; }
die() { say "$*"; exit 1; }

report() {
    local b="$dest/build/bin"
    say "llama.cpp $(cat "$dest/VERSION" 2>/dev/null || echo '(version unknown)') in $b"
    echo "export LLAMA_BENCH=$b/llama-bench"
    echo "export LLAMA_PERPLEXITY=$b/llama-perplexity"
    echo "export LLAMA_COMPLETION=$b/llama-completion"
}

done_already=1
for t in "${bins[@]}"; do [ -x "$dest/build/bin/$t" ] || done_already=0; done
if [ $done_already = 1 ]; then
    report
    exit 0
fi

for tool in npm git cmake c++ tar; do
    command -v "$tool" >/dev/null || die "needs $tool (Debian: apt-get install -y npm git cmake g++)"
done
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ ! -d "$dest/src/.git" ]; then
    say "fetching node-llama-cpp@$version from the npm registry"
    (cd "$tmp" && npm pack --silent "node-llama-cpp@$version" >/dev/null) ||
        die "npm pack node-llama-cpp@$version failed (no access to the npm registry?)"
    tarball=$(ls "$tmp"/node-llama-cpp-*.tgz 2>/dev/null | head -1)
    [ -n "$tarball" ] || die "npm pack left no tarball"
    tar -xzf "$tarball" -C "$tmp" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json ||
        die "$tarball has no llama.cpp bundle (package layout changed?)"
    rm -rf "$dest/src"
    git -c advice.detachedHead=false clone --quiet "$tmp/package/llama/gitRelease.bundle" "$dest/src.part" ||
        die "cannot clone the bundle"
    mv "$dest/src.part" "$dest/src"
    commit=$(git -C "$dest/src" rev-parse --short=9 HEAD)
    ggml=$(sed -n 's/^set(GGML_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)).*/\2/p' "$dest/src/ggml/CMakeLists.txt" |
        paste -sd. -)
    echo "bundled by node-llama-cpp@$version, commit $commit, ggml $ggml" >"$dest/VERSION"
fi

say "configuring (Release, -march=native, CPU only)"
cmake -S "$dest/src" -B "$dest/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF >"$dest/configure.log" 2>&1 ||
    die "cmake configure failed: see $dest/configure.log"
say "building ${bins[*]} with $jobs jobs (a few minutes; log: $dest/build.log)"
cmake --build "$dest/build" -j "$jobs" --target "${bins[@]}" >"$dest/build.log" 2>&1 ||
    die "build failed: see $dest/build.log"
for t in "${bins[@]}"; do [ -x "$dest/build/bin/$t" ] || die "the build made no $t"; done
report
