# 5. Window pressure: faults of the daemon's default policy against Belady's
# OPT (and CLOCK without aging, LRU, FIFO, the popularity oracle computed
# offline) on the same trace.
load plots.'/common.gp'
set title sprintf("Window pressure: misses on the same trace (window %s, %d reads)", window, count)
set ylabel "misses (ACCESS requests)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set key top right
plot datadir.'/eviction.dat' using 2:xtic(1) lc rgb "#1f77b4" title "daemon (tinylfu, measured)", \
     '' using 6 lc rgb "#9467bd" title "CLOCK without aging (offline)", \
     '' using 3 lc rgb "#ff7f0e" title "LRU (offline)", \
     '' using 4 lc rgb "#7f7f7f" title "FIFO (offline)", \
     '' using 7 lc rgb "#8c564b" title "popularity oracle (offline)", \
     '' using 5 lc rgb "#2ca02c" title "OPT (Belady, offline)"
