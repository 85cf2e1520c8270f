import type { OnceflowMigration } from '@onceflow/migrations';
import type { Knex } from 'knex';
import { ErrorCodes, OnceflowError } from './errors.ts';

/**
 * The MySQL migrations' catalogue probes, as `@onceflow/migrations/mysql`'s ddl.js issues them
 * (`hasColumn`, `indexColumns`; that file is never changed once released). A MySQL migration
 * runs a statement only when a probe shows it not done yet, so it can run again after stopping
 * halfway (MySQL commits each DDL statement on its own).
 */
const COLUMN_PROBE = /^select 1 from information_schema\.columns where table_schema = \? and table_name = \? and column_name = \?$/;
const INDEX_PROBE =
  /^select column_name as name from information_schema\.statistics where table_schema = \? and table_name = \? and index_name = \? order by seq_in_index$/;

type ProbeKind = 'column' | 'index';

/** One thing a migration did against the recording stand-in. */
type Step = { kind: 'statement'; sql: string } | { kind: 'probe'; probe: ProbeKind; bindings: readonly string[] };

/** Answers to probes by their position in the run (rows as the mysql2 client returns them); unlisted probes find nothing. */
type Answers = ReadonlyMap<number, ReadonlyArray<Record<string, unknown>>>;

/**
 * The statements of one MySQL migration, each one the migration runs only after a catalogue
 * probe turned into a statement that asks the catalogue itself, so the output does what
 * `migrate()` does on whatever the database holds: on an empty database everything runs, and
 * on one where a run stopped halfway, or that an older release already brought partly up to
 * date, the steps already done are skipped, exactly as `migrate()` would skip them.
 *
 * How a probe's condition is found without a database: the migration runs against a
 * recording stand-in that answers every probe "nothing there", which makes it issue every
 * guarded statement; then again with one probe answered "there" (a column present, an index
 * with other columns, an index with the very columns the statement creates) to see which of
 * those answers make it skip the statement. A probe guarding anything but the one statement
 * after it, or a decision that none of these conditions describes, throws instead of printing
 * SQL that would do something else than `migrate()`.
 *
 * A guarded statement prints as `set @onceflow_step = if(<probe>, '<statement>', 'do 0')` and
 * a prepare, execute and deallocate of it, which MySQL 8 and MariaDB both run from any client.
 */
export async function mysqlMigrationStatements(migration: OnceflowMigration, schema: string, compiler: Knex): Promise<string[]> {
  const base = await record(migration, schema, compiler, new Map());
  const out: string[] = [];
  for (let i = 0; i < base.length; i++) {
    const step = base[i] as Step;
    if (step.kind === 'statement') {
      out.push(step.sql);
      continue;
    }
    const probeIndex = base.slice(0, i + 1).filter((s) => s.kind === 'probe').length - 1;
    const guarded = base[i + 1];
    if (guarded?.kind !== 'statement') throw unrecordable(migration, 'a catalogue probe that guards no statement');
    const condition = await conditionOf(migration, schema, compiler, base, probeIndex, i, step, guarded.sql);
    out.push(...guardedStatements(condition, guarded.sql));
    i++;
  }
  return out;
}

/** The SQL condition under which the migration runs `statement`, probe `probeIndex` (step `at` of `base`) guarding it. */
async function conditionOf(
  migration: OnceflowMigration,
  schema: string,
  compiler: Knex,
  base: readonly Step[],
  probeIndex: number,
  at: number,
  probe: Extract<Step, { kind: 'probe' }>,
  statement: string,
): Promise<string> {
  const [table_schema, table_name, name] = probe.bindings;
  const skips = async (rows: ReadonlyArray<Record<string, unknown>>) => {
    const run = await record(migration, schema, compiler, new Map([[probeIndex, rows]]));
    // Skipped: the same run without that one statement.
    const expected = [...base.slice(0, at + 1), ...base.slice(at + 2)];
    if (run.length === expected.length && run.every((s, k) => JSON.stringify(s) === JSON.stringify(expected[k]))) return true;
    if (run.length === base.length && run.every((s, k) => JSON.stringify(s) === JSON.stringify(base[k]))) return false;
    throw unrecordable(migration, 'a catalogue probe whose answer changes more than the one statement after it');
  };
  if (probe.probe === 'column') {
    if (!(await skips([{ 1: 1 }]))) throw unrecordable(migration, 'a statement run although its column exists');
    return compiler
      .raw('not exists (select 1 from information_schema.columns where table_schema = ? and table_name = ? and column_name = ?)', [
        table_schema as string,
        table_name as string,
        name as string,
      ])
      .toQuery();
  }
  if (await skips([{ name: '\u0000' }])) {
    return compiler
      .raw('not exists (select 1 from information_schema.statistics where table_schema = ? and table_name = ? and index_name = ?)', [
        table_schema as string,
        table_name as string,
        name as string,
      ])
      .toQuery();
  }
  // Run unless the index has exactly the columns the statement gives it, in that order.
  const columns = indexColumnsOf(statement);
  if (columns === undefined || !(await skips(columns.map((c) => ({ name: c }))))) {
    throw unrecordable(migration, 'an index probe whose condition is neither "missing" nor "other columns than the statement makes"');
  }
  return compiler
    .raw(
      `coalesce((select group_concat(column_name order by seq_in_index separator ',') from information_schema.statistics
       where table_schema = ? and table_name = ? and index_name = ?), '') <> ?`,
      [table_schema as string, table_name as string, name as string, columns.join(',')],
    )
    .toQuery();
}

/** The columns of the last index an ALTER statement adds (`add primary key (a, b)`, `add unique key n (a, b)`). */
function indexColumnsOf(statement: string): string[] | undefined {
  const adds = [...statement.matchAll(/add\s+(?:primary\s+key|(?:unique\s+)?key\s+`?\w+`?)\s*\(([^)]*)\)/gi)];
  const list = adds.at(-1)?.[1];
  return list === undefined ? undefined : list.split(',').map((c) => c.trim().replaceAll('`', ''));
}

/**
 * `statement` run only when `condition` holds: a prepared statement from a string chosen by
 * `if()`, as a MySQL script cannot branch outside a stored program. The statement's text is
 * quoted the standard way (quotes doubled, no backslash escapes), so it reads the same under
 * any sql_mode, NO_BACKSLASH_ESCAPES included.
 */
function guardedStatements(condition: string, statement: string): string[] {
  if (statement.includes('\\')) throw new OnceflowError(ErrorCodes.runtime, 'a guarded MySQL migration statement holds a backslash');
  const literal = `'${statement.replace(/\s+/g, ' ').replaceAll("'", "''")}'`;
  return [
    `set @onceflow_step = if(${condition.replace(/\s+/g, ' ')}, ${literal}, 'do 0')`,
    'prepare onceflow_step from @onceflow_step',
    'execute onceflow_step',
    'deallocate prepare onceflow_step',
  ];
}

/** Runs `migration.up` against a recording stand-in that answers probes from `answers`. */
async function record(migration: OnceflowMigration, schema: string, compiler: Knex, answers: Answers): Promise<Step[]> {
  const steps: Step[] = [];
  let probes = 0;
  const recorder = {
    userParams: { schema },
    raw: (sql: string, bindings?: readonly Knex.RawBinding[]) => {
      const text = sql.replace(/\s+/g, ' ').trim();
      const kind: ProbeKind | undefined = COLUMN_PROBE.test(text) ? 'column' : INDEX_PROBE.test(text) ? 'index' : undefined;
      if (kind !== undefined) {
        steps.push({ kind: 'probe', probe: kind, bindings: (bindings ?? []).map(String) });
        const rows = answers.get(probes++) ?? [];
        return Promise.resolve([rows, []]);
      }
      if (/^\s*select\b/i.test(sql)) throw unrecordable(migration, `a query migrationSql does not know (${text.slice(0, 60)}...)`);
      const raw = bindings === undefined ? compiler.raw(sql) : compiler.raw(sql, bindings as Knex.RawBinding[]);
      steps.push({ kind: 'statement', sql: raw.toQuery().trim() });
      return Promise.resolve([{ affectedRows: 0 }, undefined]);
    },
  };
  const stand = new Proxy(recorder, {
    get(target, property) {
      if (property in target) return target[property as keyof typeof target];
      if (property === 'then') return undefined;
      throw unrecordable(migration, `knex.${String(property)}`);
    },
  });
  await migration.module.up(stand as unknown as Knex);
  return steps;
}

function unrecordable(migration: OnceflowMigration, what: string): OnceflowError {
  return new OnceflowError(
    ErrorCodes.runtime,
    `migration ${migration.name} uses ${what}, which migrationSql cannot print as SQL; apply it with onceflow migrate`,
  );
}
