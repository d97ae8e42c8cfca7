#!/bin/sh
# run-fuzzer.sh TARGET CORPUS SECONDS: run one libFuzzer target for a bounded
# time on a scratch copy of its seed corpus (the source tree is never
# written).  Any crash, leak, timeout or sanitizer report fails the test and
# leaves the reproducer in the scratch directory, whose path is printed.
set -eu
target=$1 corpus=$2 seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/secd-fuzz.XXXXXX")
cp -r "$corpus"/. "$work/"
mkdir -p "$work/artifacts"
echo "fuzzing $(basename "$target") for ${seconds}s in $work"
if "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work"; then
	rm -rf "$work"
else
	echo "finding kept in $work/artifacts" >&2
	exit 1
fi
