#!/usr/bin/env bash
# The main job end to end: migrations, a relay, and the example order/reward service
# (producer and consumer) against real PostgreSQL and Kafka, printing what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
pnpm install --frozen-lockfile --reporter=silent
bash scripts/services.sh start
bash scripts/kafka.sh start
node examples/src/order-rewards.ts "$@"
