/** The `--help` text of `onceflow` and of each of its commands. */

const COMMON = `common flags:
  --schema S          schema of Onceflow's tables (ONCEFLOW_SCHEMA, else "onceflow")
  --database-url URL  PostgreSQL connection string (DATABASE_URL); prefer the variable:
                      a flag's value is visible to every user of the machine in \`ps\`
  --json              print one JSON document instead of text
  -h, --help          print this help`;

const EXIT = `exit codes: 0 done, 1 failed (database, broker or data error), 2 usage error`;

/** Help of the whole program. */
export const PROGRAM_HELP = `usage: onceflow <command> [flags]

commands:
  migrate                       create or upgrade Onceflow's tables
  relay                         run a relay until SIGTERM/SIGINT
  status                        backlog, oldest pending age, attempts, dead count per topic
  dead list | retry <id...>     dead outbox messages
  dead-letters list | replay    the consumers' dead letters
  prune                         delete old published outbox rows and inbox rows

\`onceflow <command> --help\` describes a command and its flags.
Kafka: KAFKA_BROKERS (default 127.0.0.1:9092)
${EXIT}`;

/** Help of each command, by name. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  migrate: `usage: onceflow migrate [flags]

Creates Onceflow's schema and tables, or upgrades them to the version this release needs.
Safe to run from several processes at once. Equivalent to migrate() in code and to
\`knex migrate:latest\` with onceflowKnexfile(): all three share one bookkeeping table.

${COMMON}
${EXIT}`,
  relay: `usage: onceflow relay [flags]

Runs a relay: publishes committed outbox rows to Kafka (KAFKA_BROKERS) until SIGTERM or
SIGINT, then finishes or releases its in-flight batch and exits 0; a second signal exits at
once with 130. Run several: they share the work.

flags:
  --concurrency N     publishing loops per relay (default 4)
  --batch-size N      outbox rows claimed per batch (default 1000)
  --http-port N       serve /healthz (alive), /readyz (database, broker and leases OK)
                      and /metrics (Prometheus; needs @onceflow/metrics) on port N
  --http-host H       interface for --http-port (default 0.0.0.0)
${COMMON}
${EXIT}`,
  status: `usage: onceflow status [flags]

Per topic: backlog, messages waiting or retrying, attempts, dead count, oldest pending age.

${COMMON}
${EXIT}`,
  dead: `usage: onceflow dead list [--topic T] [--key K] [--limit N] [flags]
       onceflow dead retry <id...> | --topic T [--key K] | --all [flags]

Outbox messages that used up their attempts, with their error history; \`retry\` makes them
pending again so a relay publishes them.

flags:
  --topic T           only messages of topic T
  --key K             only messages with Kafka key K
  --limit N           list at most N messages (default 100)
  --all               retry every dead message (with --topic/--key: every matching one)
${COMMON}
${EXIT}`,
  'dead-letters': `usage: onceflow dead-letters list [--consumer C] [--limit N] [flags]
       onceflow dead-letters replay <id...> [flags]

Messages a consumer parked after its attempts; \`replay\` publishes them again to their topic
(KAFKA_BROKERS) and marks them replayed.

flags:
  --consumer C        only the dead letters of consumer C
  --limit N           list at most N dead letters (default 100)
${COMMON}
${EXIT}`,
  prune: `usage: onceflow prune [--older-than 7d] [--inbox-older-than D --redelivery-horizon H] [flags]

Deletes published outbox rows older than --older-than, in bounded batches. With
--inbox-older-than, also deletes inbox rows older than that; the inbox window must exceed
--redelivery-horizon (the longest time a message can be redelivered), or a redelivered copy
would no longer be recognised as a duplicate.

flags:
  --older-than D          published outbox rows older than D (default 7d)
  --inbox-older-than D    inbox rows older than D (default: keep inbox rows)
  --redelivery-horizon H  required with --inbox-older-than
durations: 500ms, 30s, 15m, 12h, 7d
${COMMON}
${EXIT}`,
};
