// @ts-check
/**
 * What Onceflow's MySQL and MariaDB migrations share: the database name (the Onceflow
 * "schema"), the table options, and the catalogue probes that make each statement safe to run
 * again. Landed migrations call these, so a helper here is never changed once released; a new
 * need gets a new helper.
 *
 * Why the probes: MySQL and MariaDB commit every DDL statement on its own (an implicit commit;
 * no transaction spans a CREATE or ALTER), so a migration that fails halfway leaves its first
 * statements applied and is not recorded as done. Running it again must then finish the job
 * rather than fail on what already exists. `IF NOT EXISTS` on columns and indexes is MariaDB
 * only, so the migrations ask information_schema instead, which both servers answer alike.
 */

/**
 * InnoDB (row locks, transactions, the locking arguments of the producer and relay rely on
 * it); utf8mb4 (the 3-byte utf8mb3 cannot store characters outside the BMP, emoji among
 * them); utf8mb4_bin so that any text comparison is by code point, never case- or
 * accent-folding; DYNAMIC rows, the default on MySQL 5.7+ and MariaDB 10.2+, named because
 * the 3,072-byte index key limit the indexes are sized for holds only with it.
 */
export const TABLE_OPTIONS = 'engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin row_format = dynamic';

/**
 * The Onceflow database: `knex.userParams.schema` (set by Onceflow's migrate), else
 * ONCEFLOW_SCHEMA, else "onceflow". Validated before it reaches any SQL.
 * @param {import('knex').Knex} knex
 * @returns {string}
 */
export function schemaOf(knex) {
  const name = knex.userParams?.schema ?? process.env.ONCEFLOW_SCHEMA ?? 'onceflow';
  if (typeof name !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`Invalid Onceflow schema name ${JSON.stringify(name)}: use 1-63 lower-case letters, digits or underscores`);
  }
  return name;
}

/**
 * `name` quoted for MySQL; only names {@link schemaOf} accepted or literals of the migrations
 * reach it.
 * @param {string} name
 */
export function q(name) {
  return `\`${name}\``;
}

/**
 * The rows of a `knex.raw` result of the mysql2 client (`[rows, fields]`).
 * @param {unknown} result
 * @returns {Array<Record<string, unknown>>}
 */
function rowsOf(result) {
  return /** @type {Array<Record<string, unknown>>} */ (Array.isArray(result) ? result[0] : []);
}

/**
 * Whether `table` of `schema` has `column`.
 * @param {import('knex').Knex} knex
 * @param {string} schema
 * @param {string} table
 * @param {string} column
 */
export async function hasColumn(knex, schema, table, column) {
  const result = await knex.raw('select 1 from information_schema.columns where table_schema = ? and table_name = ? and column_name = ?', [
    schema,
    table,
    column,
  ]);
  return rowsOf(result).length > 0;
}

/**
 * The columns of index `index` on `table` in key order, or an empty list when there is no
 * such index. The primary key is the index named PRIMARY.
 * @param {import('knex').Knex} knex
 * @param {string} schema
 * @param {string} table
 * @param {string} index
 * @returns {Promise<string[]>}
 */
export async function indexColumns(knex, schema, table, index) {
  const result = await knex.raw(
    `select column_name as name from information_schema.statistics
     where table_schema = ? and table_name = ? and index_name = ? order by seq_in_index`,
    [schema, table, index],
  );
  return rowsOf(result).map((r) => String(r.name));
}

/**
 * Records `version` in `meta`. Each migration does this last, so a migration that stopped
 * halfway leaves the older version behind and relays and consumers keep refusing the database
 * until it is run again.
 * @param {import('knex').Knex} knex
 * @param {string} schema
 * @param {number} version
 */
export async function setVersion(knex, schema, version) {
  await knex.raw(`update ${q(schema)}.meta set value = ? where name = 'schema_version'`, [String(version)]);
}
