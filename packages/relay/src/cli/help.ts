/** The `--help` text of `onceflow` and of each of its commands. */

const COMMON = `common flags:
  --schema S          schema of Onceflow's tables (ONCEFLOW_SCHEMA, else "onceflow"); on
                      MySQL and MariaDB the database holding them (created by migrate)
  --database-url URL  connection string: postgres://user@host:5432/db for PostgreSQL,
                      mysql://user:pw@host:3306/db or mariadb://... for MySQL 8 and
                      MariaDB 10.6+ (the URL's database is only the connection's default;
                      Onceflow's tables are in --schema). Accepted, but its value (password
                      included) is visible to every user of the machine in \`ps\`: set the
                      DATABASE_URL environment variable instead (the recommended way)
  --json              print one JSON document on stdout; no progress on stderr
  -h, --help          print this help`;

const EXIT = `exit codes: 0 done, 1 failed (database, broker or data error; also a schema without
Onceflow's tables or at another version: the one-line message names the command that fixes it),
2 usage error`;

const PROGRESS = `Progress is shown on stderr when stderr is a terminal and --json is not given.`;

/** Help of the whole program. */
export const PROGRAM_HELP = `usage: onceflow <command> [flags]

commands:
  migrate [--status | --sql]            create or upgrade Onceflow's tables; show or print them
  relay                                 run a relay until SIGTERM/SIGINT
  status                                the outbox per topic and the inbox per consumer
  dead list | show | retry | purge      dead outbox messages
  dead-letters list | show | replay | purge
                                        the consumers' dead letters
  prune                                 delete old published outbox rows and inbox rows

\`onceflow <command> --help\` describes a command and its flags; \`onceflow --version\` prints the version.
Database: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; mysql:// or
mariadb:// for MySQL 8 and MariaDB 10.6+, where the Onceflow schema is a database)
Kafka: KAFKA_BROKERS (default 127.0.0.1:9092)
${EXIT}`;

/** Help of each command, by name. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  migrate: `usage: onceflow migrate [flags]
       onceflow migrate --status [flags]
       onceflow migrate --sql [flags]

Creates Onceflow's schema and tables, or upgrades them to the version this release needs.
Safe to run from several processes at once. Equivalent to migrate() in code and to
\`knex migrate:latest\` with onceflowKnexfile(): all three share one bookkeeping table.

flags:
  --status            list applied and pending migrations and the schema version; changes
                      nothing (JSON: schema, version, expectedVersion, applied, pending, upToDate)
  --sql               print the SQL of every migration for --schema, for teams that apply DDL
                      with their own migration tool; connects to no database. It records no
                      bookkeeping rows: a later \`onceflow migrate\` adopts the schema by its version.
                      SQL for the server of DATABASE_URL; on MySQL/MariaDB the steps that
                      migrate runs only when the catalogue shows them not done are printed as
                      prepared statements asking the catalogue, so the SQL can run again.
                      (JSON: schema, migrations[].name, migrations[].statements)
  --dialect D         with --sql: postgres or mysql (also mariadb), instead of DATABASE_URL's
${COMMON}
${EXIT}`,
  relay: `usage: onceflow relay [flags]

Runs a relay: publishes committed outbox rows to Kafka (KAFKA_BROKERS) until SIGTERM or
SIGINT, then finishes or releases its in-flight batch and exits 0; a second signal exits at
once with 130. Run several: they share the work. Logs JSON lines; --json is accepted and
changes nothing.

flags:
  --concurrency N     publishing loops per relay (default 4)
  --batch-size N      outbox rows claimed per batch (default 1000)
  --http-port N       serve /healthz (alive), /readyz (database, broker and leases OK)
                      and /metrics (Prometheus; needs @onceflow/metrics) on port N
  --http-host H       interface for --http-port (default 0.0.0.0)
${COMMON}
${EXIT}`,
  status: `usage: onceflow status [flags]

Per topic (outbox): backlog (due now), waiting (delayed or backing off), retrying, attempts
spent on pending messages, dead count, age of the oldest due message.
Per consumer (inbox): inbox rows (within the retention window), rows processing (side-effect
mode), dead letters not replayed, dead letters replayed, when the oldest waiting one was parked.
Duplicates skipped are not stored in the database, so status cannot show them: each running
consumer counts them in stats().duplicates and emits inbox:duplicate.

${COMMON}
${EXIT}`,
  dead: `usage: onceflow dead list [--topic T] [--key K] [--limit N] [flags]
       onceflow dead show <id> [flags]
       onceflow dead retry <id...> | --topic T [--key K] | --key K | --all [flags]
       onceflow dead purge <id...> | --topic T [--key K] | --key K | --all [flags]

Outbox messages that used up their attempts. \`list\` shows the last error of each, \`show\` one
message with its whole error history. \`retry\` makes them pending again so a relay publishes
them; \`purge\` deletes them for good (a dead message that held back later messages of its key
releases them). retry and purge work in batches of 1000, oldest first. ${PROGRESS}

flags:
  --topic T           only messages of topic T
  --key K             only messages with Kafka key K
  --limit N           list at most N messages (default 100)
  --all               retry or purge every dead message (with --topic/--key: every matching one)
${COMMON}
${EXIT}`,
  'dead-letters': `usage: onceflow dead-letters list [--consumer C] [--limit N] [--replayed] [flags]
       onceflow dead-letters show <id> [flags]
       onceflow dead-letters replay <id...> | --consumer C | --all [flags]
       onceflow dead-letters purge <id...> | --consumer C | --all [flags]

Messages a consumer parked after its attempts. \`show\` prints one with its headers, value and
whole error history. \`replay\` publishes them again to their topic (KAFKA_BROKERS) and marks
them replayed, 100 per batch; \`purge\` deletes them for good (replayed or not), 1000 per
batch. ${PROGRESS} In --json output, values are base64.

flags:
  --consumer C        only the dead letters of consumer C
  --limit N           list at most N dead letters (default 100)
  --replayed          list replayed dead letters too
  --all               replay or purge the dead letters of every consumer
${COMMON}
${EXIT}`,
  prune: `usage: onceflow prune [--older-than 7d] [--inbox-older-than D --redelivery-horizon H] [flags]

Deletes published outbox rows older than --older-than, in bounded batches. With
--inbox-older-than, also deletes inbox rows older than that; the inbox window must exceed
--redelivery-horizon (the longest time a message can be redelivered), or a redelivered copy
would no longer be recognised as a duplicate. ${PROGRESS}

flags:
  --older-than D          published outbox rows older than D (default 7d)
  --inbox-older-than D    inbox rows older than D (default: keep inbox rows)
  --redelivery-horizon H  required with --inbox-older-than
durations: 500ms, 30s, 15m, 12h, 7d
${COMMON}
${EXIT}`,
};
