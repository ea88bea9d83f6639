#!/usr/bin/env bash
# `npm run bench`: speed figures as ratios measured side by side in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx scripts/bench/main.ts "$@"
