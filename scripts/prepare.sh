# shellcheck shell=bash
# Sourced by demo.sh and test.sh: a supported Node and pnpm on PATH, dependencies installed,
# PostgreSQL (and MariaDB/Redis) and a Kafka broker running.
. scripts/toolchain.sh
pnpm install --frozen-lockfile --reporter=silent
bash scripts/services.sh start
bash scripts/kafka.sh start
