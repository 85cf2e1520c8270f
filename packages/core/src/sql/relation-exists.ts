import type { Knex } from 'knex';
import { quoteIdentifier } from '../identifiers.ts';

/**
 * Whether table `name` exists in `schema`. `to_regclass` answers null for a missing schema or
 * table instead of failing, so probing never aborts a caller's transaction and creates nothing.
 */
export async function relationExists(knex: Knex, schema: string, name: string): Promise<boolean> {
  const result = await knex.raw('select to_regclass(?) is not null as present', [`${quoteIdentifier(schema)}.${quoteIdentifier(name)}`]);
  return result.rows[0]?.present === true;
}
