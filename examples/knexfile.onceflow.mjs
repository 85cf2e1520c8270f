// Onceflow's migrations through plain knex, beside an application's own migrations:
//   npx knex --knexfile knexfile.onceflow.mjs migrate:latest
// DATABASE_URL picks the database, ONCEFLOW_SCHEMA the schema (default "onceflow"). The
// bookkeeping is the same table migrate() and `onceflow migrate` use, so all three agree.
import { onceflowKnexfile } from '@onceflow/relay';

export default () =>
  onceflowKnexfile({ client: 'pg', connection: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
