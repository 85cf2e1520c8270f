#!/usr/bin/env bash
# The test command: gets a supported Node and pnpm, installs dependencies, makes sure
# PostgreSQL (and MariaDB/Redis) and a Kafka broker run, then runs every test.
# Extra arguments go to vitest (e.g. `bash scripts/test.sh test/e2e.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prepare.sh

report="$(mktemp -t onceflow-vitest-XXXXXX.json)"
trap 'rm -f "$report"' EXIT
rc=0
pnpm vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || rc=$?
# One closing line in the plain 'N passed, N failed' form.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || true
exit "$rc"
