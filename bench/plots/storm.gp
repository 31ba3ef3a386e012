# 7. Invalidation storm: the guest's streaming bandwidth without and under it.
load plots.'/common.gp'
set title sprintf("Guest stream over its %s BAR while the host invalidates %.0f pages/s (median, bars: min..max)", bar, inv_per_s)
set ylabel "guest read bandwidth (MiB/s, log scale)"
set logscale y 10
set style fill solid 0.85 border -1
set boxwidth 0.5
set xrange [-0.6:1.6]
set key off
plot datadir.'/storm.dat' using 0:2:xtic(1) with boxes lc rgb "#1f77b4", \
     '' using 0:2:3:4 with yerrorbars lc rgb "black" pt 0, \
     '' using 0:2:(sprintf("%.0f MiB/s", $2)) with labels offset 6,1
