import { OptionError } from './errors.ts';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a SQL identifier from configuration (schema or table name). Only lower-case
 * letters, digits and underscores are accepted, so a name never needs escaping beyond quotes
 * and never carries SQL of its own.
 */
export function assertIdentifier(option: string, value: unknown): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new OptionError(
      option,
      value,
      'a SQL identifier of 1-63 lower-case letters, digits or underscores, starting with a letter or underscore',
    );
  }
  return value;
}

/** Quotes an identifier that {@link assertIdentifier} accepted. */
export function quoteIdentifier(name: string): string {
  return `"${name}"`;
}

/** `"schema"."table"`, both parts validated. */
export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdentifier(assertIdentifier('schema', schema))}.${quoteIdentifier(assertIdentifier('table', table))}`;
}

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** True when `topic` is a legal Kafka topic name. */
export function isValidTopic(topic: unknown): topic is string {
  return typeof topic === 'string' && TOPIC.test(topic) && topic !== '.' && topic !== '..';
}
