import type { OnceflowMigration } from '../index.js';

/** Onceflow's migrations for MySQL 8 and MariaDB 10.6+, in the order they apply. */
export declare const mysqlMigrations: ReadonlyArray<OnceflowMigration>;
