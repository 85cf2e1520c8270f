import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCHEMA, defaultSchema, tablesFor } from './schema.ts';

const saved = process.env.ONCEFLOW_SCHEMA;
afterEach(() => {
  if (saved === undefined) delete process.env.ONCEFLOW_SCHEMA;
  else process.env.ONCEFLOW_SCHEMA = saved;
});

describe('the default schema', () => {
  it('is ONCEFLOW_SCHEMA when set, else "onceflow"', () => {
    delete process.env.ONCEFLOW_SCHEMA;
    expect(defaultSchema()).toBe(DEFAULT_SCHEMA);
    process.env.ONCEFLOW_SCHEMA = '';
    expect(defaultSchema()).toBe('onceflow');
    process.env.ONCEFLOW_SCHEMA = 'billing_events';
    expect(defaultSchema()).toBe('billing_events');
    expect(tablesFor().outbox).toBe('"billing_events"."outbox"');
  });

  it('is validated like any schema name', () => {
    process.env.ONCEFLOW_SCHEMA = 'Bad-Name';
    expect(() => tablesFor()).toThrow(/schema/);
  });
});
