# 6. Footprint: the daemon's peak RSS by BAR size, with the fitted slope and
# the bitmap design's (1 bit per page + 1 bit per fault-around group).
load plots.'/common.gp'
set title sprintf("Daemon peak RSS (VmHWM) by BAR size: %.1f KiB per GiB measured, %.1f by design", kb_per_gib, design_kb_per_gib)
set xlabel "BAR size (GiB, log scale)"
set ylabel "peak RSS (KiB)"
set logscale x 2
set xrange [0.7:90]
set yrange [0:*]
set format x "%g"
set key top left
fit_line(x) = intercept_kb + kb_per_gib * x
design_line(x) = intercept_kb + design_kb_per_gib * x
plot datadir.'/rss.dat' using 1:2:3:4 with yerrorbars ls 1 title "measured (median, min..max)", \
     fit_line(x) with lines ls 1 dt 2 title "least-squares fit", \
     design_line(x) with lines ls 3 dt 3 title "bitmap design from the same intercept"
