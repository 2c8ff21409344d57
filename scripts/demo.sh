#!/usr/bin/env bash
# The live demo: two tsbgp hosts and an FRR top-of-rack router in network namespaces.
# On a fresh Debian 12 with Node 20, as root: `npm run demo` (or `bash scripts/demo.sh`). It runs the
# idempotent set-up first (apt packages, npm ci), which takes seconds once everything is installed.
#   --once   run through and tear down without waiting (the default when stdin is not a terminal)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "demo: run as root (it creates network namespaces)" >&2; exit 1; fi
bash scripts/setup.sh
exec node --import tsx conformance/demo/demo.ts "$@"
