#!/usr/bin/env bash
# get-llamacpp.sh: CPU builds of llama.cpp to measure minillm against, side by
# side (scripts/vs-llamacpp.sh) or in rbench sweeps (engine llama.cpp): stock,
# and the same commit with PR #24156 (--reclaim-mmap-source) applied.
#
#   scripts/get-llamacpp.sh [--stock-only | --pr-only] [DEST]
#
# The source comes from the npm registry: the package node-llama-cpp carries
# the llama.cpp release it binds as a git bundle (package/llama/gitRelease.bundle),
# so the build needs npm, not GitHub. Builds llama-bench, llama-perplexity and
# llama-completion (Release, -march=native, no curl) twice:
#   stock    into DEST/build/bin             (DEST/src: the bundle's clone)
#   patched  into DEST-pr24156/build/bin     (DEST-pr24156/src: a clone of DEST/src
#            at the same commit with scripts/llamacpp/reclaim-mmap-source.patch applied)
# and prints the environment lines that point the scripts at them:
# LLAMA_BENCH, LLAMA_PERPLEXITY, LLAMA_COMPLETION (stock) and LLAMA_PR_BENCH,
# LLAMA_PR_PERPLEXITY, LLAMA_PR_COMPLETION (patched). --stock-only / --pr-only
# build and print just one of them (--pr-only still fetches the source into DEST/src).
#
# On x86 the builds leave out ggml's AMX matmul (-mno-amx-tile -mno-amx-int8
# -mno-amx-bf16 beside -march=native): on hosts with AMX, this commit's AMX
# path crashes in ggml_backend_amx_mul_mat at its first ldtilecfg (llama.cpp
# issue #20824; a fix is proposed in PR #26954), so llama-bench died with
# SIGSEGV on every model. Without it llama.cpp runs its AVX-512 kernels, the
# instructions minillm's kernels use. LLAMACPP_AMX=1 builds AMX in. A build
# made with other flags is rebuilt (DEST/build/FLAGS).
#
# DEST defaults to $RB_CACHE_DIR/llama.cpp (RB_CACHE_DIR: ~/.cache/rbench).
# NODE_LLAMA_CPP_VERSION picks the package version (default 3.22.1, whose
# bundle is llama.cpp with ggml 0.25.1); JOBS the build's parallelism.
# A finished build is reused: stock once its three tools exist (delete DEST to
# build again); patched while DEST-pr24156/STAMP matches the source commit and
# the patch's sha256, so editing the patch rebuilds the patched tree only.
set -euo pipefail
version=${NODE_LLAMA_CPP_VERSION:-3.22.1}
want_stock=1 want_pr=1
case ${1:-} in
    --stock-only) want_pr=0; shift ;;
    --pr-only) want_stock=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "get-llamacpp: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "get-llamacpp: at most one DEST (see --help)" >&2; exit 2; }
dest=${1:-${RB_CACHE_DIR:-$HOME/.cache/rbench}/llama.cpp}
dest=${dest%/}
pr_dest=$dest-pr24156
patch_file=$(cd "$(dirname "$0")" && pwd)/llamacpp/reclaim-mmap-source.patch
jobs=${JOBS:-$(nproc)}
bins=(llama-bench llama-perplexity llama-completion)
cflags=""
case $(uname -m) in x86_64 | i?86) [ "${LLAMACPP_AMX:-0}" = 1 ] || cflags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" ;; esac
flags_stamp="Release GGML_NATIVE=ON extra flags: ${cflags:-none}"

say() { echo "get-llamacpp: $*" >&2; }
die() { say "$*"; exit 1; }

# report DIR PREFIX: the export lines for the tools built in DIR
report() {
    local b="$1/build/bin"
    say "llama.cpp $(cat "$1/VERSION" 2>/dev/null || echo '(version unknown)') in $b"
    echo "export ${2}_BENCH=$b/llama-bench"
    echo "export ${2}_PERPLEXITY=$b/llama-perplexity"
    echo "export ${2}_COMPLETION=$b/llama-completion"
}

have_bins() {
    local t
    for t in "${bins[@]}"; do [ -x "$1/build/bin/$t" ] || return 1; done
    [ "$(cat "$1/build/FLAGS" 2>/dev/null)" = "$flags_stamp" ]
}

# build DIR: configure and build DIR/src into DIR/build
build() {
    local gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    say "configuring $1 (Release, -march=native${cflags:+ $cflags}, CPU only)"
    rm -f "$1/build/FLAGS"
    cmake -S "$1/src" -B "$1/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DCMAKE_C_FLAGS="$cflags" -DCMAKE_CXX_FLAGS="$cflags" \
        -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF >"$1/configure.log" 2>&1 ||
        die "cmake configure failed: see $1/configure.log"
    say "building ${bins[*]} with $jobs jobs (a few minutes; log: $1/build.log)"
    cmake --build "$1/build" -j "$jobs" --target "${bins[@]}" >"$1/build.log" 2>&1 ||
        die "build failed: see $1/build.log"
    echo "$flags_stamp" >"$1/build/FLAGS"
    have_bins "$1" || die "the build in $1 made no ${bins[*]}"
}

stock_done=0 pr_done=0
have_bins "$dest" && stock_done=1
if [ $want_pr = 1 ]; then
    [ -f "$patch_file" ] || die "no patch at $patch_file"
    read -r patch_sha _ < <(sha256sum "$patch_file")
    if [ -d "$dest/src/.git" ]; then
        stamp="commit $(git -C "$dest/src" rev-parse HEAD) patch $patch_sha"
        have_bins "$pr_dest" && [ "$(cat "$pr_dest/STAMP" 2>/dev/null)" = "$stamp" ] && pr_done=1
    fi
fi
if { [ $want_stock = 0 ] || [ $stock_done = 1 ]; } && { [ $want_pr = 0 ] || [ $pr_done = 1 ]; }; then
    [ $want_stock = 1 ] && report "$dest" LLAMA
    [ $want_pr = 1 ] && report "$pr_dest" LLAMA_PR
    exit 0
fi

for tool in npm git cmake c++ tar sha256sum; do
    command -v "$tool" >/dev/null || die "needs $tool (Debian: apt-get install -y npm git cmake g++)"
done

# the source: the bundle's clone in DEST/src, shared by both builds
if [ ! -d "$dest/src/.git" ]; then
    mkdir -p "$dest"
    tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    say "fetching node-llama-cpp@$version from the npm registry"
    (cd "$tmp" && npm pack --silent "node-llama-cpp@$version" >/dev/null) ||
        die "npm pack node-llama-cpp@$version failed (no access to the npm registry?)"
    tarballs=("$tmp"/node-llama-cpp-*.tgz)
    [ -f "${tarballs[0]}" ] || die "npm pack left no tarball"
    tar -xzf "${tarballs[0]}" -C "$tmp" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json ||
        die "${tarballs[0]} has no llama.cpp bundle (package layout changed?)"
    rm -rf "$dest/src" "$dest/src.part"
    git -c advice.detachedHead=false clone --quiet "$tmp/package/llama/gitRelease.bundle" "$dest/src.part" ||
        die "cannot clone the bundle"
    mv "$dest/src.part" "$dest/src"
    commit=$(git -C "$dest/src" rev-parse --short=9 HEAD)
    ggml=$(sed -n 's/^set(GGML_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)).*/\2/p' "$dest/src/ggml/CMakeLists.txt" |
        paste -sd. -)
    echo "bundled by node-llama-cpp@$version, commit $commit, ggml $ggml" >"$dest/VERSION"
fi

if [ $want_stock = 1 ] && [ $stock_done = 0 ]; then
    build "$dest"
fi

if [ $want_pr = 1 ]; then
    commit=$(git -C "$dest/src" rev-parse HEAD)
    stamp="commit $commit patch $patch_sha"
    if ! have_bins "$pr_dest" || [ "$(cat "$pr_dest/STAMP" 2>/dev/null)" != "$stamp" ]; then
        mkdir -p "$pr_dest"
        rm -f "$pr_dest/STAMP"
        keep=$pr_dest/.keep
        rm -rf "$keep"
        if [ -d "$pr_dest/src/.git" ] && [ "$(git -C "$pr_dest/src" rev-parse HEAD)" = "$commit" ]; then
            # back to the pristine commit (an older patch may be applied), keeping a copy of
            # the files it changed to give their mtimes back below if the new patch leaves
            # their text as it was: then the rebuild recompiles only what really changed
            while IFS= read -r -d '' f; do
                mkdir -p "$keep/$(dirname "$f")" && cp -p "$pr_dest/src/$f" "$keep/$f"
            done < <(git -C "$pr_dest/src" diff --name-only -z)
            { git -C "$pr_dest/src" reset --quiet --hard "$commit" &&
                git -C "$pr_dest/src" clean --quiet --force -d; } ||
                die "cannot reset $pr_dest/src"
        else
            rm -rf "$pr_dest/src" "$pr_dest/src.part" "$pr_dest/build"
            { git clone --quiet --no-checkout "$dest/src" "$pr_dest/src.part" &&
                git -C "$pr_dest/src.part" -c advice.detachedHead=false checkout --quiet --detach "$commit"; } ||
                die "cannot clone $dest/src into $pr_dest"
            mv "$pr_dest/src.part" "$pr_dest/src"
        fi
        git -C "$pr_dest/src" apply --check "$patch_file" ||
            die "$patch_file does not apply to llama.cpp ${commit:0:9} (see the errors above); fix the patch or pick the NODE_LLAMA_CPP_VERSION it was made for"
        git -C "$pr_dest/src" apply "$patch_file" || die "git apply $patch_file failed"
        if [ -d "$keep" ]; then
            while IFS= read -r -d '' f; do
                if cmp -s "$keep/$f" "$pr_dest/src/$f"; then touch -r "$keep/$f" "$pr_dest/src/$f"; fi
            done < <(cd "$keep" && find . -type f -print0)
            rm -rf "$keep"
        fi
        echo "$(cat "$dest/VERSION" 2>/dev/null || echo "commit ${commit:0:9}") + PR #24156 patch (sha256 ${patch_sha:0:12})" \
            >"$pr_dest/VERSION"
        build "$pr_dest"
        echo "$stamp" >"$pr_dest/STAMP"
    fi
fi

[ $want_stock = 1 ] && report "$dest" LLAMA
[ $want_pr = 1 ] && report "$pr_dest" LLAMA_PR
exit 0
