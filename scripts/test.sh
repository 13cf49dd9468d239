#!/usr/bin/env bash
# `pnpm test`: installs what is missing, then runs the unit tests and the integration tests
# (which start their own Postgres and NATS), and ends with one "N passed, N failed" line
# summed over both runs. Exits non-zero if either run fails.
#
# `bash scripts/test.sh unit` or `… integration` (pnpm test:unit, pnpm test:integration) runs only
# that part, without the type check and the linter.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

part="${1:-all}"
case "$part" in
  all | unit | integration) ;;
  *) echo "usage: scripts/test.sh [unit|integration]" >&2; exit 2 ;;
esac

bash scripts/ensure-deps.sh || exit 1

if [ "$part" = all ]; then
  # tsx runs the tests without type checks; the whole tree (tests and bench included) is checked here.
  echo "==> type check"
  pnpm -s typecheck || exit 1

  # A floating promise (a forgotten `await`) type-checks but can confirm the slot before a publish
  # settled; the type-aware linter refuses it.
  echo "==> lint"
  pnpm -s lint || exit 1

  # One layout for everyone (prettier; pnpm format rewrites the tree).
  echo "==> format"
  pnpm -s format:check || exit 1

  # Arrows run one way (types → core → runtime → cli; no import cycles, not even between
  # folders): .dependency-cruiser.cjs has the rules, docs/architecture.md "Module layout and
  # import rules" the reasons. After the type check, which builds the packages it resolves.
  echo "==> import rules"
  pnpm -s lint:deps || exit 1
fi

# Node 20 does not expand globs given to `node --test`, so bash does.
shopt -s globstar nullglob
unit_files=()
for f in packages/*/src/**/*.test.ts; do
  [[ "$f" == */node_modules/* ]] || unit_files+=("$f")
done
integration_files=()
for f in test/**/*.test.ts; do
  [[ "$f" == */node_modules/* ]] || integration_files+=("$f")
done

tap_dir="$(mktemp -d)"
trap 'rm -rf "$tap_dir"' EXIT

passed=0
failed=0
status=0

# run NAME NODE_TEST_ARGS... : spec output for people, TAP to a file for the counts.
run() {
  local name="$1"
  shift
  local tap="$tap_dir/$name.tap"
  echo "==> $name tests"
  node --import tsx --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "$@"
  local rc=$?
  local pass fail cancelled
  pass="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)"
  fail="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)"
  cancelled="$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)"
  pass="${pass:-0}"
  # A cancelled test (timeout, file that never finished) did not pass: count it as failed.
  fail=$((${fail:-0} + ${cancelled:-0}))
  # A run that failed without a failed test to show for it (the runner itself crashed)
  # still must not be summed up as all green.
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
  passed=$((passed + pass))
  failed=$((failed + fail))
  [ "$rc" -eq 0 ] || status=1
}

if [ "$part" != integration ]; then
  if [ "${#unit_files[@]}" -gt 0 ]; then
    run unit "${unit_files[@]}"
  else
    echo "==> unit tests: none found under packages/*/src"
  fi
fi

if [ "$part" != unit ]; then
  if [ "${#integration_files[@]}" -gt 0 ]; then
    run integration --test-concurrency=1 --test-timeout=600000 "${integration_files[@]}"
  else
    echo "==> integration tests: none found under test/"
  fi
fi

echo
echo "$passed passed, $failed failed"
exit "$status"
