// @ts-check
/**
 * Onceflow's migrations for MySQL 8 and MariaDB 10.6+, in order. They carry the names of the
 * PostgreSQL migrations they stand for, so a database at version N has recorded the same N
 * names in its bookkeeping whichever server it is on.
 */
import * as initial from './20261122000001_onceflow_initial.js';
import * as notifyAfterCommit from './20261122000002_onceflow_notify_after_commit.js';
import * as deadLetterDedupKey from './20261122000003_onceflow_dead_letter_dedup_key.js';
import * as dedupScope from './20261129000004_onceflow_dedup_scope.js';
import * as holdsKeyHashed from './20261129000005_onceflow_holds_key_hashed.js';
import * as deadLetterRawBytes from './20261129000006_onceflow_dead_letter_raw_bytes.js';

/** @type {ReadonlyArray<import('../index.js').OnceflowMigration>} */
export const mysqlMigrations = Object.freeze([
  { name: '20261122000001_onceflow_initial.js', module: initial },
  { name: '20261122000002_onceflow_notify_after_commit.js', module: notifyAfterCommit },
  { name: '20261122000003_onceflow_dead_letter_dedup_key.js', module: deadLetterDedupKey },
  { name: '20261129000004_onceflow_dedup_scope.js', module: dedupScope },
  { name: '20261129000005_onceflow_holds_key_hashed.js', module: holdsKeyHashed },
  { name: '20261129000006_onceflow_dead_letter_raw_bytes.js', module: deadLetterRawBytes },
]);
