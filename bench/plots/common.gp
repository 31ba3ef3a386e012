# Shared look of the benchmark plots (loaded by each script).
set terminal pngcairo size 960,560 font "DejaVu Sans,11" noenhanced
set output out
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
set key top left box opaque
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 1.1
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 1.1
set style line 3 lc rgb "#2ca02c" lw 2 pt 9 ps 1.1
set style line 4 lc rgb "#7f7f7f" lw 2 pt 11 ps 1.1
