#!/usr/bin/env bash
# The live demo: two tsbgp hosts and an FRR top-of-rack router in network namespaces.
# On a fresh Debian 12, as root: `bash scripts/setup.sh` once, then `bash scripts/demo.sh`.
#   --once   run through and tear down without waiting (the default when stdin is not a terminal)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "demo: run as root (it creates network namespaces)" >&2; exit 1; fi
if [ ! -d node_modules ]; then echo "demo: run 'bash scripts/setup.sh' first" >&2; exit 1; fi
exec node --import tsx conformance/demo/demo.ts "$@"
