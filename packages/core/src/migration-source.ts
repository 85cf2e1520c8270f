import type { OnceflowMigration } from '@onceflow/migrations';
import type { Knex } from 'knex';

/**
 * `knex` (the migrator's transaction, usually) as the migrations see it: with
 * `userParams.schema` set to `schema`. Knex refuses `withUserParams` on a transaction, and the
 * knex CLI builds its instance from a config that has no user params, so the schema is layered
 * over the instance by a proxy that answers `userParams` and forwards everything else.
 */
export function withSchema(knex: Knex, schema: string): Knex {
  if (knex.userParams?.schema === schema) return knex;
  const userParams = { ...knex.userParams, schema };
  return new Proxy(knex, {
    get: (target, property, receiver) => (property === 'userParams' ? userParams : Reflect.get(target, property, receiver)),
  });
}

/** A knex migration source over `list` that runs each migration against `schema`. */
export function onceflowMigrationSource(list: readonly OnceflowMigration[], schema: string): Knex.MigrationSource<OnceflowMigration> {
  return {
    getMigrations: async () => [...list],
    getMigrationName: (migration) => migration.name,
    getMigration: async ({ module }) => ({
      up: (knex: Knex) => module.up(withSchema(knex, schema)),
      down: (knex: Knex) => module.down(withSchema(knex, schema)),
    }),
  };
}
