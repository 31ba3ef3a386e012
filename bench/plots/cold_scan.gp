# 2. Cold scan: bandwidth of a sequential read of a fully discarded window by
# fault-around size, against the same read with everything mapped.
load plots.'/common.gp'
set title sprintf("Cold scan of a discarded %s window by fault-around (median, bars: min..max); default %s", window, default_fa)
set xlabel "fault-around (KiB, log scale)"
set ylabel "guest read bandwidth (MiB/s, log scale)"
set y2label "one fault's latency, p50 (us, log scale)"
set logscale x 2
set logscale y 10
set logscale y2 10
set y2tics nomirror
set format x "%g"
set key bottom right
plot datadir.'/cold_scan.dat' using 2:6:7:8 with yerrorlines ls 3 title "native (everything mapped)", \
     ''                       using 2:3:4:5 with yerrorlines ls 1 title "cold (every page discarded)", \
     ''                       using 2:9 axes x1y2 with linespoints ls 4 dt 2 title "fault latency p50 (right axis)", \
     datadir.'/cold_head.dat' using ($1*1.12):2:3:4 with yerrorbars lc rgb "#9467bd" pt 13 ps 1.6 title sprintf("cold, %s window, default fault-around", head_window), \
     ''                       using ($1*1.12):5:6:7 with yerrorbars lc rgb "#9467bd" pt 12 ps 1.6 title sprintf("native, %s window", head_window)
