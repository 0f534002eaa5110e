# term.gp: the output terminal of every plot, loaded by the other scripts.
# Variables (gnuplot -e): fmt = 'png' or 'svg', out = path without the
# extension, w and h = size in pixels. PNG through cairo when this gnuplot
# has it. Names are printed as they are (noenhanced: '_' and '^' are not markup).
if (!exists("w")) w = 1200
if (!exists("h")) h = 600
if (fmt eq 'svg') {
    set terminal svg size w, h dynamic noenhanced font 'Sans,12' background rgb 'white'
} else {
    if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
        set terminal pngcairo size w, h noenhanced font 'Sans,10' background rgb 'white'
    } else {
        set terminal png size w, h noenhanced background rgb 'white'
    }
}
set termoption noenhanced
set output out . '.' . fmt
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
