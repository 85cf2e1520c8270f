# shellcheck shell=bash
# Sourced by demo.sh and test.sh: a supported Node and pnpm on PATH, dependencies installed,
# PostgreSQL (and MariaDB/Redis) and a Kafka broker running.
. scripts/toolchain.sh
pnpm install --frozen-lockfile --reporter=silent
bash scripts/services.sh start
bash scripts/kafka.sh start
# Workspace packages resolve to their TypeScript sources under this condition (the published
# builds are for users); child processes inherit it.
case " ${NODE_OPTIONS:-} " in
  *" --conditions=onceflow-source "*) ;;
  *) export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--conditions=onceflow-source" ;;
esac
