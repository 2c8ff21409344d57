#!/usr/bin/env bash
# Runs a test suite with Node's own runner. Node 20's --test takes no globs, so the files are listed.
#   unit         src/**/*.test.ts            (no root needed, parallel)
#   conformance  conformance/**/*.test.ts    (root, namespaces, real peers; one file at a time)
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-unit}
case "$suite" in
  unit) files=$(find src -name '*.test.ts' | sort); conc=2 ;;
  conformance) files=$(find conformance -name '*.test.ts' -not -path '*/fixtures/*' | sort); conc=1 ;;
  *) echo "usage: run-tests.sh unit|conformance" >&2; exit 2 ;;
esac
if [ -z "$files" ]; then echo "run-tests: no $suite test files found" >&2; exit 1; fi
# shellcheck disable=SC2086
exec node --import tsx --test --test-concurrency=$conc --test-reporter=spec $files
