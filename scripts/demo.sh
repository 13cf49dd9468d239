#!/usr/bin/env bash
# `pnpm demo [-- --seconds N]`: make sure everything is installed and built, then run the
# demo (scripts/demo.ts). exec, so that Ctrl-C goes straight to the demo, which shuts down
# wal2nats and its servers in order.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
exec node --import tsx scripts/demo.ts "$@"
