# engines.gp: peak RSS per engine x memory mode, one panel per model (their
# scales differ): minillm, stock llama.cpp and llama.cpp with PR #24156 side by
# side, the completion workload at -c 4096 (make bench-llamacpp).
# Variables: data (llamacpp-table.py --plot-data, reshaped by
# bench-llamacpp.sh: one block per model, columns x engine_index mode_index
# engine mode peak_mib), models, engines, modes (words), title; plus term.gp's.
load 'plots/term.gp'
ne = words(engines)
nm = words(modes)
np = words(models)
set multiplot layout 1, np title title
set style fill solid 0.85 border rgb '#333333'
set boxwidth 0.8 / nm absolute
set ylabel 'peak RSS (MiB, wait4 ru_maxrss, median)'
set bmargin 7
set offsets 0, 0, graph 0.12, 0
set yrange [0:*]
set xrange [-0.55 : ne - 0.45]
set xtics () 
do for [p = 1:np] {
    set title word(models, p)
    set xtics (word(engines, 1) 0)
    do for [k = 2:ne] { set xtics add (word(engines, k) k - 1) }
    if (p == 1) { set key at screen 0.5, screen 0.02 center bottom horizontal box font ',9' } else { unset key }
    plot for [i = 1:nm] data index (p - 1) using ($3 == i - 1 ? $1 : NaN):6 with boxes lt i title word(modes, i), \
         for [i = 1:nm] data index (p - 1) using ($3 == i - 1 ? $1 : NaN):6:(sprintf($6 < 100 ? '%.1f' : '%.0f', $6)) \
             with labels offset 0, 0.7 font ',7' notitle
}
unset multiplot
