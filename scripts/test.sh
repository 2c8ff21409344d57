#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Node 20, as root:
# set-up, type-check, the build (dist/, which the UML end-to-end test runs), lint and format check,
# unit tests, then conformance tests against real peers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== typecheck"; npx tsc -p tsconfig.json
echo "== build";     npx tsc -p tsconfig.build.json
echo "== lint";      npx biome check .
echo "== unit";      bash scripts/run-tests.sh unit
echo "== conformance"; bash scripts/run-tests.sh conformance
