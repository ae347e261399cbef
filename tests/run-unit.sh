#!/bin/sh
# run-unit.sh - run every check(3) unit-test binary given; one summary line.
# usage: tests/run-unit.sh BIN...
pass=0 fail=0 failed=
for t in "$@"; do
	if CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-30} "$t"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); failed="$failed ${t##*/}"
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
