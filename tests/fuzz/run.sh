#!/bin/sh
# run.sh - run every built libFuzzer target for a while on its corpus.
# usage: tests/fuzz/run.sh FUZZ_BUILD_DIR SECONDS
dir=$1 secs=${2:-15}
rc=0
for f in "$dir"/fuzz_*; do
	name=${f##*/fuzz_}
	corpus=tests/fuzz/corpus/$name
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
	echo "== fuzz_$name for ${secs}s"
	if ! "$f" -max_total_time="$secs" -print_final_stats=0 "$work" \
	    >"$work.log" 2>&1; then
		tail -40 "$work.log"; rc=1
	else
		grep -E '^#[0-9]+.*(DONE|pulse)' "$work.log" | tail -1
	fi
	rm -rf "$work" "$work.log"
done
exit $rc
