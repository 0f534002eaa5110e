# peak_rss.gp: peak RSS per model x weight type, one bar per memory mode; on
# the mmap bar a bracket marks the repacked bytes (held twice without reclaim:
# file pages and repacked copy). One panel per model (their scales differ).
# Variables: data (plots.sh's peak_rss.dat: one block per model, columns
# x quant cluster mode_index mode peak_mib repacked_mib), models, nquants
# (words, one per model), modes (words), title; plus term.gp's.
load 'plots/term.gp'
nm = words(modes)
np = words(models)
set multiplot layout 1, np title title
set style fill solid 0.85 border rgb '#333333'
set boxwidth 0.8 / nm absolute
set ylabel 'peak RSS (MiB, wait4 ru_maxrss, median)'
set xlabel 'weight type'
set bmargin 7
set offsets 0, 0, graph 0.12, 0
set yrange [0:*]
do for [p = 1:np] {
    set title word(models, p)
    set xrange [-0.55 : word(nquants, p) - 0.45]
    # One legend for all panels, under them.
    if (p == 1) { set key at screen 0.5, screen 0.02 center bottom horizontal box font ',9' } else { unset key }
    plot for [i = 1:nm] data index (p - 1) using ($4 == i - 1 ? $1 : NaN):6 with boxes lt i title word(modes, i), \
         for [i = 1:nm] data index (p - 1) using ($4 == i - 1 ? $1 : NaN):6:(sprintf($6 < 100 ? '%.1f' : '%.0f', $6)) \
             with labels offset 0, 0.7 font ',8' notitle, \
         data index (p - 1) using 3:(NaN):xtic(2) notitle, \
         data index (p - 1) using (strcol(5) eq 'mmap' && $7 >= 1 ? $1 : NaN):($6 - $7):(0):7 \
             with vectors heads size screen 0.006, 90 lw 2 lc rgb 'black' title 'repacked bytes', \
         data index (p - 1) using (strcol(5) eq 'mmap' && $7 >= 1 ? $1 : NaN):($6 - $7 / 2):(sprintf('repacked %.0f MiB', $7)) \
             with labels rotate by 90 font ',9' tc rgb 'white' notitle
}
unset multiplot
