#!/bin/sh
# run-e2e.sh - run the end-to-end tests (tests/e2e/test_*.py) against the
# programs in BUILD; one summary line.  usage: tests/run-e2e.sh BUILD
build=${1:-build}
KURIR_BUILD=$(cd "$build" && pwd)
export KURIR_BUILD
# Debian's python3: the test modules from Debian packages (python3-aiosmtpd,
# python3-dnslib, installed by tools/bootstrap.sh) are importable there
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
cd tests/e2e || exit 1
pass=0 fail=0 failed=
for t in test_*.py; do
	echo "== $t"
	if timeout 1200 "$PYTHON" -m unittest -v "${t%.py}" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); failed="$failed $t"
	fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
