#!/usr/bin/env bash
# `npm test`: type-check, then every test against a real server. The local server
# (scripts/db-server.sh) is started by the test setup unless IPMS_TEST_ADMIN_URL names one.
# Ends with one plain line: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p . || { echo "tests: 0 passed, 1 failed (type check)"; exit 1; }
mkdir -p test-artifacts
npx vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json "$@"
code=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-artifacts/vitest.json", "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' 2>/dev/null || echo "tests: 0 passed, 1 failed (no test report)"
exit $code
