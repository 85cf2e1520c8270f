import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { RuntimeVersionError } from './errors.ts';

/**
 * A supported version range: at least `min`, below the next major version `maxMajor`.
 * Kept as plain numbers so the check needs no semver library.
 */
export interface SupportedRange {
  readonly min: string;
  readonly belowMajor: number;
}

/** Node.js versions Onceflow runs on: 22.12 brought `require()` of ES modules, which CommonJS apps use to load it. */
export const SUPPORTED_NODE: SupportedRange = { min: '22.12.0', belowMajor: Number.POSITIVE_INFINITY };

/** Peer dependency ranges, as in the packages' `peerDependencies`. */
export const SUPPORTED_PEERS = {
  knex: { min: '3.1.0', belowMajor: 4 },
  pg: { min: '8.11.0', belowMajor: 9 },
  kafkajs: { min: '2.2.0', belowMajor: 3 },
  /** Knex's driver for MySQL and MariaDB; optional, checked only where a MySQL knex is used. */
  mysql2: { min: '3.0.0', belowMajor: 4 },
} as const satisfies Record<string, SupportedRange>;

/** The name of a peer dependency checked by {@link assertPeerVersion}. */
export type PeerName = keyof typeof SUPPORTED_PEERS;

function parts(version: string): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = version
    .replace(/^v/, '')
    .split(/[.+-]/, 3)
    .map((n) => Number.parseInt(n, 10) || 0);
  return [major, minor, patch];
}

/** Whether `version` lies in `range`. Pre-release tags are ignored. */
export function inRange(version: string, range: SupportedRange): boolean {
  const v = parts(version);
  const m = parts(range.min);
  if (v[0] >= range.belowMajor) return false;
  for (let i = 0; i < 3; i++) {
    if ((v[i] as number) !== (m[i] as number)) return (v[i] as number) > (m[i] as number);
  }
  return true;
}

function describeRange(range: SupportedRange): string {
  return Number.isFinite(range.belowMajor) ? `>=${range.min} <${range.belowMajor}` : `>=${range.min}`;
}

/** Throws {@link RuntimeVersionError} unless this Node.js is at least {@link SUPPORTED_NODE}. */
export function assertNodeVersion(found: string = process.versions.node): void {
  if (!inRange(found, SUPPORTED_NODE)) {
    throw new RuntimeVersionError(
      'Node.js',
      found,
      describeRange(SUPPORTED_NODE),
      'Run it on Node.js 22.12 or later (22 and 24 are tested).',
    );
  }
}

/**
 * The version of the installed package `name` as this module resolves it (so the copy an
 * application's Onceflow uses), or null when it is not installed. Found through the package's
 * main entry, since not every package exports its `package.json`.
 */
function installedVersion(name: string): string | null {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    return null;
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === name && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No package.json here (or an unreadable one): keep walking up.
    }
  }
  return null;
}

/** Throws {@link RuntimeVersionError} when `found` (null: not installed) is outside the range of peer `name`. */
export function checkPeerVersion(name: PeerName, found: string | null): void {
  const range = SUPPORTED_PEERS[name];
  if (found === null || !inRange(found, range)) {
    throw new RuntimeVersionError(name, found, describeRange(range), `Install a supported one: npm install ${name}@^${range.min}`);
  }
}

const checked = new Set<string>();

/**
 * Throws {@link RuntimeVersionError} when this Node.js or the installed peer `name` is outside
 * the supported range. Checks each at most once per process; relays, consumers, producers and
 * `migrate()` call it at start, so a wrong install fails with one clear line.
 */
export function assertPeerVersion(name: PeerName): void {
  if (checked.has(name)) return;
  assertNodeVersion();
  checkPeerVersion(name, installedVersion(name));
  checked.add(name);
}
