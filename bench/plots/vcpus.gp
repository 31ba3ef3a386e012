# 4. Many vCPUs faulting disjoint pages at once: aggregate remaps per second.
load plots.'/common.gp'
set title "vCPUs faulting disjoint discarded pages at once (--fault-around 4K; median, bars: min..max)"
set xlabel "vCPUs"
set ylabel "aggregate remaps/s"
set logscale x 2
set xrange [0.8:10]
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set key bottom right
set format x "%g"
set xtics (1, 2, 4, 8)
plot datadir.'/vcpus.dat' using 1:2:3:4 with yerrorlines ls 1 title "ioreq-lend (one daemon thread serves every vCPU)"
