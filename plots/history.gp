# history.gp: nightly history per case (complete workload): peak RSS on top,
# generation speed below, one line per case (model|quant|mode), log scales
# (models differ by orders of magnitude).
# Variables: data (plots.sh's history.dat: one block per case, columns
# time peak_mib tok_s), cases (words), title; plus term.gp's.
load 'plots/term.gp'
n = words(cases)
set xdata time
set timefmt '%Y-%m-%dT%H:%M:%SZ'
set format x "%m-%d\n%H:%M"
set xlabel 'run started (UTC)'
set logscale y
set key outside right top font ',8'
set lmargin 12
set rmargin 40
set multiplot layout 2, 1 title title
set ylabel 'peak RSS (MiB, median)'
plot for [i = 1:n] data index (i - 1) using 1:2 with linespoints lt i pt (i % 7) + 1 title word(cases, i)
set ylabel 'generation (tokens/s, median)'
plot for [i = 1:n] data index (i - 1) using 1:($3 > 0 ? $3 : NaN) with linespoints lt i pt (i % 7) + 1 title word(cases, i)
unset multiplot
