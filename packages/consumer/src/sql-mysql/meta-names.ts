import { createHash } from 'node:crypto';

/** The width of `meta.name` on MySQL: VARCHAR(64), ASCII. */
const META_NAME_CHARS = 64;

/**
 * The `meta` row name of a per-consumer note (`prefix` + consumer name) on MySQL. `meta.name`
 * there is VARCHAR(64) ASCII, narrower than PostgreSQL's text, while a consumer name may have
 * 200 characters of any script: a name that does not fit (too long, not ASCII, or starting
 * with '#', or ending in a space, which the PAD SPACE collation of `meta.name` would not tell
 * apart from the same name without it) is replaced by '#' and the base64url SHA-256 of its UTF-8 bytes (44 characters),
 * so every consumer name has one note and no two names share one.
 */
export function metaNameFor(prefix: string, consumer: string): string {
  const fits =
    prefix.length + consumer.length <= META_NAME_CHARS &&
    /^[\x20-\x7e]*$/.test(consumer) &&
    !consumer.startsWith('#') &&
    !consumer.endsWith(' ');
  if (fits) return prefix + consumer;
  return `${prefix}#${createHash('sha256').update(consumer, 'utf8').digest('base64url')}`;
}
