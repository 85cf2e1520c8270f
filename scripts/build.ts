// Builds the published packages: ESM JavaScript, .d.ts and source maps in each package's dist/.
//
//   node scripts/build.ts            every public package, dependencies first
//   node ../../scripts/build.ts      (from a package folder, as its build/prepack script) that
//                                    package and the workspace packages it depends on
//
// Each package is compiled by tsc with tsconfig.build.json. Sources import each other with
// `.ts` extensions (so Node runs them directly in the workspace); tsc rewrites those to `.js`
// in the JavaScript but keeps them in declarations, where TypeScript projects that do not set
// allowImportingTsExtensions refuse them, so declarations are rewritten here. The root LICENSE
// is copied into every package, as npm takes it into the tarball.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

interface Manifest {
  name: string;
  private?: boolean;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

interface WorkspacePackage {
  dir: string;
  manifest: Manifest;
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** The public workspace packages by name: packages/* and migrations/. */
function workspacePackages(): Map<string, WorkspacePackage> {
  const dirs = [...readdirSync(join(ROOT, 'packages')).map((d) => join(ROOT, 'packages', d)), join(ROOT, 'migrations')];
  const found = new Map<string, WorkspacePackage>();
  for (const dir of dirs) {
    if (!existsSync(join(dir, 'package.json'))) continue;
    const manifest = readManifest(dir);
    if (manifest.private !== true) found.set(manifest.name, { dir, manifest });
  }
  return found;
}

/** `names` and the workspace packages they depend on, each after its dependencies. */
function buildOrder(all: Map<string, WorkspacePackage>, names: Iterable<string>): WorkspacePackage[] {
  const order: WorkspacePackage[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const pkg = all.get(name);
    if (pkg === undefined || seen.has(name)) return;
    seen.add(name);
    for (const dep of Object.keys(pkg.manifest.dependencies ?? {})) visit(dep);
    order.push(pkg);
  };
  for (const name of names) visit(name);
  return order;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

function build(pkg: WorkspacePackage): void {
  copyFileSync(join(ROOT, 'LICENSE'), join(pkg.dir, 'LICENSE'));
  const config = join(pkg.dir, 'tsconfig.build.json');
  if (!existsSync(config)) return; // plain JavaScript with hand-written declarations (migrations)
  const dist = join(pkg.dir, 'dist');
  rmSync(dist, { recursive: true, force: true });
  execFileSync(TSC, ['-p', config], { stdio: 'inherit' });
  for (const file of filesUnder(dist)) {
    if (!file.endsWith('.d.ts')) continue;
    const text = readFileSync(file, 'utf8');
    const fixed = text.replace(/(['"])(\.{1,2}\/[^'"\n]+)\.ts\1/g, '$1$2.js$1');
    if (fixed !== text) writeFileSync(file, fixed);
  }
  for (const bin of Object.values(pkg.manifest.bin ?? {})) chmodSync(join(pkg.dir, bin), 0o755);
  console.log(`built ${pkg.manifest.name} -> ${relative(ROOT, dist)}`);
}

const all = workspacePackages();
const here = process.cwd();
const own = [...all.values()].find((p) => p.dir === here);
const targets = own === undefined ? [...all.keys()] : [own.manifest.name];
for (const pkg of buildOrder(all, targets)) build(pkg);
