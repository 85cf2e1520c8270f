#!/usr/bin/env bash
# The test command: gets a supported Node and pnpm, installs dependencies, makes sure
# PostgreSQL (and MariaDB/Redis) and a Kafka broker run, then runs every test.
# Extra arguments go to vitest (e.g. `bash scripts/test.sh test/e2e.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
pnpm install --frozen-lockfile --reporter=silent
bash scripts/services.sh start
bash scripts/kafka.sh start
pnpm vitest run "$@"
