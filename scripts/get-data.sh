#!/usr/bin/env bash
# get-data.sh: find every file of datasets/manifest.tsv and verify its checksum.
#
# Lookup order per file: $RB_DATA_DIR/<subdir>/<name>, $RB_DATA_DIR/<name>,
# ../shared/<subdir>/<name> (beside the checkout), the download cache
# ($RB_CACHE_DIR, default ~/.cache/rbench/data), else download from the origin.
#   get-data.sh --link DIR   symlink every verified file into DIR
#   get-data.sh NAME         print the verified path of one file
# Exit 1 naming the file when one is missing (and cannot be downloaded) or corrupt.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
manifest="$here/datasets/manifest.tsv"
cache="${RB_CACHE_DIR:-${HOME:-/tmp}/.cache/rbench/data}"

sha_ok() { # file sha
    [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

download() { # name origin dest sha
    local name=$1 origin=$2 dest=$3 sha=$4 tmp
    [ "$origin" != "-" ] || return 1
    command -v curl >/dev/null || { echo "get-data: curl missing, cannot download $name" >&2; return 1; }
    mkdir -p "$(dirname "$dest")"
    tmp="$dest.part.$$"
    case "$origin" in
    *.zip\#*)
        local url=${origin%%#*} member=${origin#*#} zip="$tmp.zip"
        curl -fsSL --retry 2 -o "$zip" "$url" || { rm -f "$zip"; return 1; }
        unzip -p "$zip" "$member" >"$tmp" || { rm -f "$zip" "$tmp"; return 1; }
        rm -f "$zip" ;;
    *)
        curl -fsSL --retry 2 -o "$tmp" "$origin" || { rm -f "$tmp"; return 1; } ;;
    esac
    sha_ok "$tmp" "$sha" || { echo "get-data: $name from $origin has the wrong sha256" >&2; rm -f "$tmp"; return 1; }
    mv "$tmp" "$dest"
}

resolve() { # name subdir sha origin -> prints path
    local name=$1 sub=$2 sha=$3 origin=$4 c
    for c in ${RB_DATA_DIR:+"$RB_DATA_DIR/$sub/$name" "$RB_DATA_DIR/$name"} \
             "$here/../shared/$sub/$name" "$cache/$name"; do
        if [ -f "$c" ]; then
            if sha_ok "$c" "$sha"; then echo "$c"; return 0; fi
            echo "get-data: $c has the wrong sha256 (expected $sha)" >&2
            return 1
        fi
    done
    echo "get-data: $name not found locally; downloading from $origin" >&2
    download "$name" "$origin" "$cache/$name" "$sha" || {
        echo "get-data: $name is missing: set RB_DATA_DIR to a folder holding it" >&2; return 1; }
    echo "$cache/$name"
}

link_dir=""
want=""
case "${1:-}" in
--link) link_dir=${2:?usage: get-data.sh --link DIR}; mkdir -p "$link_dir" ;;
-h|--help|"") sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) want=$1 ;;
esac

status=0
found=0
while IFS=$'\t' read -r name sub bytes sha license origin; do
    case "$name" in ''|\#*) continue ;; esac
    [ -z "$want" ] || [ "$want" = "$name" ] || continue
    found=1
    if p=$(resolve "$name" "$sub" "$sha" "$origin"); then
        if [ -n "$link_dir" ]; then
            ln -sfn "$(cd "$(dirname "$p")" && pwd)/$(basename "$p")" "$link_dir/$name"
        else
            echo "$p"
        fi
    else
        status=1
    fi
done <"$manifest"
if [ -n "$want" ] && [ $found = 0 ]; then echo "get-data: '$want' is not in the manifest" >&2; exit 1; fi
exit $status
