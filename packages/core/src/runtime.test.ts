import { describe, expect, it } from 'vitest';
import { RuntimeVersionError } from './errors.ts';
import { assertNodeVersion, checkPeerVersion, inRange } from './runtime.ts';

describe('supported versions', () => {
  it('takes a range as at least its minimum and below its next major', () => {
    const knex = { min: '3.1.0', belowMajor: 4 };
    expect(inRange('3.1.0', knex)).toBe(true);
    expect(inRange('3.3.0', knex)).toBe(true);
    expect(inRange('3.10.2', knex)).toBe(true);
    expect(inRange('3.0.9', knex)).toBe(false);
    expect(inRange('2.5.1', knex)).toBe(false);
    expect(inRange('4.0.0', knex)).toBe(false);
    expect(inRange('v22.12.0', { min: '22.12.0', belowMajor: Number.POSITIVE_INFINITY })).toBe(true);
    expect(inRange('22.11.9', { min: '22.12.0', belowMajor: Number.POSITIVE_INFINITY })).toBe(false);
  });

  it('refuses an old Node.js, naming what was found and what is needed', () => {
    expect(() => assertNodeVersion('20.20.2')).toThrow(/Onceflow needs Node\.js >=22\.12\.0, but found 20\.20\.2/);
    expect(() => assertNodeVersion('22.12.0')).not.toThrow();
    expect(() => assertNodeVersion('24.21.0')).not.toThrow();
  });

  it('refuses a peer outside its range or missing, with the install line that fixes it', () => {
    let caught: unknown;
    try {
      checkPeerVersion('knex', '2.5.1');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RuntimeVersionError);
    expect(caught).toMatchObject({ code: 'ONCEFLOW_RUNTIME', dependency: 'knex', found: '2.5.1', needed: '>=3.1.0 <4' });
    expect((caught as Error).message).toContain('npm install knex@^3.1.0');
    expect(() => checkPeerVersion('kafkajs', null)).toThrow(/Onceflow needs kafkajs >=2\.2\.0 <3, but it is not installed/);
    expect(() => checkPeerVersion('pg', '8.11.0')).not.toThrow();
    expect(() => checkPeerVersion('mysql2', '3.24.5')).not.toThrow();
    expect(() => checkPeerVersion('mysql2', '2.3.3')).toThrow(/npm install mysql2@\^3\.0\.0/);
  });
});
