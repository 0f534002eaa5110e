#!/usr/bin/env bash
# noreclaim-minillm.sh: minillm without reclaim, for checking that the nightly
# gate catches a memory regression (RB_DISABLE_RECLAIM=1 make nightly).
# Runs $RB_REAL_MINILLM with every reclaim flag removed (--reclaim MODE,
# --reclaim=MODE, --reclaim-mmap-source, --reclaim-at WHEN), so the sweep's
# reclaim modes keep their names but behave as plain mmap.
set -u
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --reclaim|--reclaim-at) shift ;;
    --reclaim=*|--reclaim-at=*|--reclaim-mmap-source) ;;
    *) args+=("$1") ;;
    esac
    shift
done
exec "${RB_REAL_MINILLM:?RB_REAL_MINILLM names the real minillm}" "${args[@]}"
