#!/usr/bin/env bash
# The main job end to end: migrations, a relay, and the example order/reward service
# (producer and consumer) against real PostgreSQL and Kafka, printing what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prepare.sh
node examples/src/order-rewards.ts "$@"
