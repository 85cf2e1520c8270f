import type { Knex } from 'knex';

/** One migration: its `up` and `down` read the schema from `knex.userParams.schema`. */
export interface OnceflowMigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** A migration and the name knex records for it (its file name). */
export interface OnceflowMigration {
  readonly name: string;
  readonly module: OnceflowMigrationModule;
}

/** Onceflow's migrations in the order they apply. */
export declare const migrations: ReadonlyArray<OnceflowMigration>;
