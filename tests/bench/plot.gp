# Fan-out against clients, sio and Node: deliveries/s (top) and p99 latency
# (bottom). tests/bench/compare.sh runs it as
#   gnuplot -e "datafile='/tmp/sio-bench-fanout.PID.dat'; outfile='docs/bench-fanout.png'" tests/bench/plot.gp
# The data (from report.py): clients offered sio_deliv sio_p99 node_deliv node_p99 sio_p50 node_p50,
# medians over the rounds, NaN where a point is missing.
if (!exists("datafile")) datafile = "bench-fanout.dat"
if (!exists("outfile")) outfile = "docs/bench-fanout.png"

set terminal pngcairo size 900,900 enhanced font "DejaVu Sans,11"
set output outfile
set datafile missing "NaN"
set key top left box opaque
set grid xtics ytics mytics lc rgb "#dddddd"
set xlabel "connected clients"
set logscale y 10
set format y "10^{%T}"
set autoscale yfix
set offsets graph 0.03, graph 0.03, graph 0.08, graph 0.08
sio = "#1f77b4"
node = "#d62728"

set multiplot layout 2,1 title "Fan-out (chat, io.emit to every client): sio vs Node socket.io" font ",13"

set title "Deliveries per second (median over the rounds)"
set ylabel "deliveries/s"
plot datafile using 1:2 with lines lw 9 lc rgb "#dddddd" title "offered", \
     "" using 1:3 with linespoints pt 7 ps 1.2 lw 2 lc rgb sio title "sio", \
     "" using 1:5 with linespoints pt 5 ps 1.2 lw 2 lc rgb node title "Node socket.io"

set title "Latency, p99 and p50 (median over the rounds)"
set ylabel "ms"
set format y "%g"
plot datafile using 1:4 with linespoints pt 7 ps 1.2 lw 2 lc rgb sio title "sio p99", \
     "" using 1:6 with linespoints pt 5 ps 1.2 lw 2 lc rgb node title "Node p99", \
     "" using 1:7 with linespoints pt 6 ps 1 lw 1 dt 3 lc rgb sio title "sio p50", \
     "" using 1:8 with linespoints pt 4 ps 1 lw 1 dt 3 lc rgb node title "Node p50"

unset multiplot
