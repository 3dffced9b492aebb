#!/usr/bin/env bash
# Compares `trip bench` between builds (or options) in the same minutes, alternating them so
# that the machine's drift hits every one alike. For each it prints the median sagas/s of the
# bench's runs and the CPU time (user + system of the whole command) per 1,000 sagas: on these
# noisy 2-core machines sagas/s moves ±10% run to run, CPU per saga far less.
#
#   scripts/bench-compare.sh [-n ROUNDS] [-t TRIPS] 'LABEL=COMMAND ...' ...
#   scripts/bench-compare.sh -n 3 'before=/tmp/trip-old bench' 'after=target/profiling/trip bench'
#   scripts/bench-compare.sh 'c64=target/profiling/trip bench --concurrency 64' \
#                            'c128=target/profiling/trip bench --concurrency 128'
#
# Each COMMAND gets `--trips TRIPS --runs 3` appended (TRIPS defaults to 3000).
set -euo pipefail
rounds=2
trips=3000
while getopts "n:t:" opt; do
  case "$opt" in
    n) rounds=$OPTARG ;;
    t) trips=$OPTARG ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { sed -n '2,12p' "$0" >&2; exit 2; }

for round in $(seq "$rounds"); do
  for spec in "$@"; do
    label=${spec%%=*}
    command=${spec#*=}
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # the command is meant to be split into words
    out=$( { /usr/bin/time -f "CPU %U %S" $command --trips "$trips" --runs 3; } 2>&1 ) || {
      echo "$label: failed" >&2; echo "$out" >&2; exit 1; }
    end=$(date +%s.%N)
    median=$(echo "$out" | sed -n 's/.*median of [0-9]*: \([0-9]*\) sagas\/s.*/\1/p')
    cpu=$(echo "$out" | awk -v n="$trips" '/^CPU/ { printf "%.2f", ($2 + $3) * 1000 / (3 * n) }')
    printf 'round %s  %-12s %6s sagas/s  %s s CPU per 1,000 sagas  (%.0f s)\n' \
      "$round" "$label" "$median" "$cpu" "$(echo "$end - $start" | bc)"
  done
done
