#!/usr/bin/env bash
# `npm test`: type-check, then every test against a real server. The local server
# (scripts/db-server.sh) is started by the test setup unless IPMS_TEST_ADMIN_URL names one.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p .
exec npx vitest run "$@"
