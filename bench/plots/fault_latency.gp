# 1. Fault service latency: histogram of ours (ACCESS ioreq round trip) vs the
# userfaultfd anchor, same bucket scheme (8 buckets per power of two).
load plots.'/common.gp'
set title sprintf("Fault service latency, one page per fault: ioreq-lend p50 %.1f us vs userfaultfd p50 %.1f us (%.1fx)", ours_p50, uffd_p50, ours_p50 / uffd_p50)
set xlabel "latency (us, bucket lower edge, log scale)"
set ylabel "% of faults in bucket (log scale)"
set logscale y 10
set yrange [0.001:100]
set logscale x 2
set format x "%g"
set key top right
set arrow 1 from ours_p50, graph 0 to ours_p50, graph 1 nohead dt 2 lc rgb "#1f77b4"
set arrow 2 from uffd_p50, graph 0 to uffd_p50, graph 1 nohead dt 2 lc rgb "#d62728"
plot datadir.'/fault_hist.dat' using 1:($2 > 0 ? $2 : NaN) with linespoints ls 1 title "ioreq-lend: touch -> ACCESS ioreq -> daemon maps -> resume", \
     ''                        using 1:($3 > 0 ? $3 : NaN) with linespoints ls 2 title "anchor: uffd minor fault + UFFDIO_CONTINUE (handler thread)"
