import type { Knex } from 'knex';

/**
 * Whether table `name` exists in the MySQL database `schema`. information_schema answers
 * nothing for a missing database or table instead of failing, and creates nothing.
 */
export async function relationExists(knex: Knex, schema: string, name: string): Promise<boolean> {
  const [rows] = (await knex.raw('select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?', [
    schema,
    name,
  ])) as [Array<{ n: number | string }>];
  return Number(rows[0]?.n ?? 0) > 0;
}
