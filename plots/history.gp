# history.gp: nightly history of one model, complete workload: median peak
# RSS on top, median generation speed below, one line per weight type x mode
# (colour by mode, point by type).
# Variables: data (plots.sh's history-MODEL.dat: one block per case, columns
# time peak_mib tok_s), labels (words: quant/mode per block), lts and pts
# (words: line and point type per block), single (set when every point has
# the same time: the range is widened around it), title; plus term.gp's.
load 'plots/term.gp'
n = words(labels)
fmt_t = '%Y-%m-%dT%H:%M:%SZ'
set xdata time
set timefmt fmt_t
set format x "%m-%d\n%H:%M"
if (exists("single")) { t0 = strptime(fmt_t, single); set xrange [t0 - 43200 : t0 + 43200] }
set xlabel 'run started (UTC)'
set key outside right top font ',9'
set lmargin 12
set rmargin 24
set yrange [0:*]
set multiplot layout 2, 1 title title
set ylabel 'peak RSS (MiB, median)'
plot for [i = 1:n] data index (i - 1) using 1:2 with linespoints lt (int(word(lts, i))) pt (int(word(pts, i))) title word(labels, i)
set ylabel 'generation (tokens/s, median)'
plot for [i = 1:n] data index (i - 1) using 1:($3 > 0 ? $3 : NaN) with linespoints lt (int(word(lts, i))) pt (int(word(pts, i))) title word(labels, i)
unset multiplot
