// Lets plain knex run Onceflow's migrations: `knex --knexfile knexfile.js migrate:latest`.
// DATABASE_URL picks the database, ONCEFLOW_SCHEMA the schema (default "onceflow").
export default {
  client: 'pg',
  connection: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  migrations: {
    directory: './migrations',
    loadExtensions: ['.js'],
    tableName: 'onceflow_knex_migrations',
  },
};
