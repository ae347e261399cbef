#!/bin/sh
# run.sh - SMTP benchmark: messages per second accepted by kurir-smtpd for
# N messages of SIZE bytes over C concurrent sessions, each run on a fresh
# host and aborted after BENCH_TIMEOUT seconds.  Uses Postfix's
# smtp-source when installed (sh tools/bootstrap.sh bench), else a Python
# client (tests/bench/smtp_bench.py).
#
# usage: sh tests/bench/run.sh BUILD
# environment: BENCH_N (2000) BENCH_C (1,10,50) BENCH_SIZE (1024)
#              BENCH_TIMEOUT (120) BENCH_CLIENT (auto|smtp-source|python)
build=${1:-build}
[ -x "$build/kurird" ] || { echo "bench: no $build/kurird; run make" >&2; exit 1; }
KURIR_BUILD=$(cd "$build" && pwd)
BENCH_BUILD_ARG=$build
export KURIR_BUILD BENCH_BUILD_ARG
here=$(dirname "$0")
# every run is bounded by BENCH_TIMEOUT; the whole bench by this
timeout 900 python3 "$here/smtp_bench.py"; rc=$?
# POP3: one session fetching a BENCH_POP3_N (5000) message Maildir
timeout 600 python3 "$here/pop3_bench.py" || rc=1
exit $rc
