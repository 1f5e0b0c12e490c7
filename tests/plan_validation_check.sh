#!/usr/bin/env bash
# The planner's validation table in launch/results/README.md (between the plan-validation
# markers) must be what `switchyard plan --validate` prints now: a change to the planner or a
# profile that moves a row fails here until the README says so.
set -euo pipefail
switchyard=$1 readme=$2
now=$("$switchyard" plan --validate)
kept=$(sed -n '/<!-- plan-validation begin -->/,/<!-- plan-validation end -->/p' "$readme" |
  sed '1d;$d')
if [[ "$now" != "$kept" ]]; then
  echo "launch/results/README.md's planner validation table differs from 'switchyard plan --validate':"
  diff <(echo "$kept") <(echo "$now") || true
  echo "FAILED: update the table (between the plan-validation markers) with the new output"
  exit 1
fi
echo "validation table up to date ($(echo "$now" | grep -c '^| [^f-]') rows)"
