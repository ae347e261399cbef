#!/bin/sh
# run.sh - make bench: kurir against Postfix (SMTP) and Dovecot (POP3) in
# one run (tests/bench/compare.py): the same workloads on both sides, each
# on a fresh instance, medians over BENCH_RUNS runs, printed as a table
# with the command that reproduces it.  Needs root (the anchors and the
# privilege separation) and tools/bootstrap.sh bench (Postfix, Dovecot,
# strace).
#
# usage: sh tests/bench/run.sh BUILD
# environment: BENCH_RUNS (3), BENCH_ONLY (smtp,big,pop3,idle,fsync,auth),
#              BENCH_FSYNC (1), BENCH_TIMEOUT, KURIR_KEEP
build=${1:-build}
[ -x "$build/kurird" ] || { echo "bench: no $build/kurird; run make" >&2; exit 1; }
here=$(dirname "$0")
# compare.py bounds every step and the whole run itself
exec /usr/bin/python3 "$here/compare.py" "$build"
