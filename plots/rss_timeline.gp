# rss_timeline.gp: resident memory over time, one line per memory mode of one
# model (rep 0 of each mode), sampled by rbench every 10 ms from
# /proc/PID/status. Top: VmRSS with the end of the load marked (from the
# engine's "load X s" log line); bottom: its file-backed (RssFile, solid) and
# anonymous (RssAnon, dashed) parts, where reclaim's dropped file pages show.
# Variables: files, titles (words: timeline CSVs and mode names), loads (CSV:
# mode_index,t_s,rss_mib), title; plus term.gp's.
load 'plots/term.gp'
set datafile separator ','
n = words(files)
set multiplot layout 2, 1 title title
set key outside right top font ',9'
set xlabel 'time since the engine started (s)'
set ylabel 'VmRSS (MiB)'
set yrange [0:*]
set lmargin 12
set rmargin 26
plot for [i = 1:n] word(files, i) skip 1 using ($1 / 1000):($2 / 1024) with lines lt i lw 2 title word(titles, i), \
     loads using 2:3 with points pt 7 ps 1.1 lc rgb 'black' title 'end of load'
set ylabel 'RssFile solid, RssAnon dashed (MiB)'
plot for [i = 1:n] word(files, i) skip 1 using ($1 / 1000):($4 / 1024) with lines lt i lw 2 title word(titles, i) . ' file', \
     for [i = 1:n] word(files, i) skip 1 using ($1 / 1000):($3 / 1024) with lines lt i lw 1.5 dt 2 title word(titles, i) . ' anon'
unset multiplot
