# memlimit.gp: the cost of running under a memory-cgroup limit (make
# bench-memlimit): for one model and cache state, wall time (left) and bytes
# read from storage (right) against the limit, one line per engine + mode,
# from every probe of `rbench limit` that completed (identical output); the
# open circle on each line is its run without a limit, at its cgroup peak.
# Variables: data (memlimit-report.py: one block per series, columns
# limit_mib wall_s read_mib), peaks (the same columns, one row per block),
# series (the blocks' names, words with '_' for spaces), title; term.gp's.
load 'plots/term.gp'
ns = words(series)
set multiplot layout 1, 2 title title
set key top right font ',8'
set grid
set xlabel 'memory cgroup limit (MiB)'
set ylabel 'wall time (s)'
set logscale y
set title 'wall time against the limit'
plot for [i = 1:ns] data index (i - 1) using 1:2 with linespoints lt i pt 7 ps 0.6 \
         title system(sprintf("echo '%s' | tr _ ' '", word(series, i))), \
     for [i = 1:ns] peaks index (i - 1) using 1:2 with points lt i pt 6 ps 1.6 notitle
set ylabel 'read from storage (MiB, /proc/PID/io read_bytes)'
set title 'bytes read against the limit'
plot for [i = 1:ns] data index (i - 1) using 1:($3 > 0 ? $3 : 1) with linespoints lt i pt 7 ps 0.6 \
         title system(sprintf("echo '%s' | tr _ ' '", word(series, i))), \
     for [i = 1:ns] peaks index (i - 1) using 1:($3 > 0 ? $3 : 1) with points lt i pt 6 ps 1.6 notitle
unset multiplot
