// Onceflow's migrations through plain knex, beside an application's own migrations:
//   npx knex --knexfile knexfile.onceflow.mjs migrate:latest
// DATABASE_URL picks the database, ONCEFLOW_SCHEMA the schema (default "onceflow"; on MySQL
// and MariaDB the database holding Onceflow's tables). The bookkeeping is the same table
// migrate() and `onceflow migrate` use, so all three agree.
import { onceflowKnexfile } from '@onceflow/relay';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export default () =>
  onceflowKnexfile(
    /^(mysql|mariadb):/.test(url)
      ? // MySQL 8 and MariaDB 10.6+: knex's mysql2 client, which reads mysql:// URLs.
        { client: 'mysql2', connection: url.replace(/^mariadb:/, 'mysql:') }
      : { client: 'pg', connection: url },
  );
