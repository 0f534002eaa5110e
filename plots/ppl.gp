# ppl.gp: perplexity per weight type (with llama.cpp's +/- estimate), one
# panel per model. Every memory mode gives the same value (the identity gate
# checks it), so one bar per type.
# Variables: data (plots.sh's ppl.dat: one block per model, columns
# index quant ppl ppl_err), models, nquants (words), title; plus term.gp's.
load 'plots/term.gp'
np = words(models)
set multiplot layout 1, np title title
set style fill solid 0.8 border rgb '#333333'
set boxwidth 0.6 absolute
set ylabel 'perplexity (lower is better)'
set xlabel 'weight type'
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
do for [p = 1:np] {
    set title word(models, p)
    set xrange [-0.6 : word(nquants, p) - 0.4]
    plot data index (p - 1) using 1:3:xtic(2) with boxes lt 1 notitle, \
         data index (p - 1) using 1:3:4 with yerrorbars lc rgb 'black' ps 0 notitle, \
         data index (p - 1) using 1:($3 + $4):(sprintf('%.4f', $3)) with labels offset 0, 0.8 font ',9' notitle
}
unset multiplot
