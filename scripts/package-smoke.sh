#!/usr/bin/env bash
# Package smoke test: what a user gets from npm. Packs every public package, installs the
# tarballs with their peers from the registry into fresh apps outside the workspace, and there:
#   (a) an ESM service migrates, enqueues in a transaction, relays, consumes with the inbox and
#       sees each effect exactly once (test/package-smoke/esm.mjs);
#   (b) a CommonJS script requires every package (cjs.cjs);
#   (c) a strict TypeScript service compiles under nodenext and under bundler, skipLibCheck
#       off, with TypeScript 7 and 5 (app.ts);
#   (d) `npx onceflow --help`, each command's --help, exit codes, and a real `onceflow migrate`.
# on Node 24 and 22 with the newest peers, and on Node 22.12.0 (the minimum) with the lowest
# supported peers; then checks that Node 20 and knex 2 are refused with a clear error.
# Needs PostgreSQL (DATABASE_URL) and Kafka (KAFKA_BROKERS) running. Fails on the first error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# A Node older than 22 on this machine (the system's, when toolchain.sh put a newer one first),
# to check that it is refused.
OLD_NODE=""
for candidate in $(type -ap node) /usr/bin/node /usr/local/bin/node; do
  if [ -x "$candidate" ] && [ "$("$candidate" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 99)" -lt 22 ]; then
    OLD_NODE="$candidate"
    break
  fi
done
. scripts/toolchain.sh
# The workspace's source condition must not reach the installed packages.
unset NODE_OPTIONS
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

NEWEST_PEERS=(knex@^3 pg@^8 kafkajs@^2 mysql2@^3)
LOWEST_PEERS=(knex@3.1.0 pg@8.11.0 kafkajs@2.2.0 mysql2@3.0.0)
NODE_MIN=22.12.0

work="$(mktemp -d -t onceflow-smoke-XXXXXX)"
trap 'rm -rf "$work"' EXIT
say() { echo "smoke: $*"; }
fail() {
  echo "smoke: FAILED: $*" >&2
  exit 1
}

# A Node.js from the npm registry, cached in .tools/node-<version>; prints its bin folder.
node_bin() {
  local version="$1" dir="$ROOT/.tools/node-$1"
  if [ ! -x "$dir/node_modules/.bin/node" ]; then
    npm install --prefix "$dir" --no-audit --no-fund --no-update-notifier --loglevel=error "node@$version" >&2
  fi
  echo "$dir/node_modules/.bin"
}

# --- pack every public package (prepack builds it) and check what each tarball holds ---
mkdir -p "$work/tarballs"
for dir in packages/* migrations; do
  [ -f "$dir/package.json" ] || continue
  if node -e 'process.exit(require(process.argv[1]).private ? 0 : 1)' "$ROOT/$dir/package.json"; then continue; fi
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
  # `pnpm publish` must ship what `pnpm pack` packed: compare its dry run's file list.
  name="$(node -p 'const p = require(process.argv[1]); p.name.replace("@", "").replace("/", "-") + "-" + p.version' "$ROOT/$dir/package.json")"
  published="$(cd "$dir" && pnpm publish --dry-run --no-git-checks --json 2>/dev/null | node -e '
    let t = ""; process.stdin.on("data", (c) => (t += c)).on("end", () => {
      console.log(JSON.parse(t.slice(t.indexOf("{"))).files.map((f) => f.path).sort().join("\n"));
    });')"
  packed="$(tar -tzf "$work/tarballs/$name.tgz" | sed 's#^package/##' | sort)"
  [ "$published" = "$packed" ] || fail "$name: pnpm publish would ship other files than pnpm pack packed: $(diff <(echo "$packed") <(echo "$published") | head -n 5)"
done
for tgz in "$work"/tarballs/*.tgz; do
  listing="$(tar -tzf "$tgz")"
  name="$(basename "$tgz")"
  for required in package/package.json package/LICENSE package/README.md; do
    grep -qx "$required" <<<"$listing" || fail "$name lacks ${required#package/}"
  done
  if [[ "$name" != *migrations* ]]; then
    for required in package/dist/index.js package/dist/index.d.ts package/dist/index.js.map; do
      grep -qx "$required" <<<"$listing" || fail "$name lacks ${required#package/}"
    done
  fi
  if grep -E '\.test\.|tsbuildinfo|/node_modules/' <<<"$listing"; then fail "$name ships test or build files (above)"; fi
  if tar -xzOf "$tgz" package/package.json | grep -q 'workspace:'; then fail "$name still names workspace: versions"; fi
done
say "packed $(ls "$work"/tarballs/*.tgz | wc -l) packages, each the same as \`pnpm publish\` would ship: $(cd "$work/tarballs" && ls | tr '\n' ' ')"

# --- a fresh app: package.json, the smoke files, the tarballs and the given peers ---
make_app() {
  local app="$1"
  shift
  mkdir -p "$app"
  printf '{ "name": "smoke-app", "version": "1.0.0", "private": true, "type": "module" }\n' >"$app/package.json"
  cp test/package-smoke/esm.mjs test/package-smoke/cjs.cjs test/package-smoke/mysql.mjs test/package-smoke/app.ts test/package-smoke/tsconfig.*.json "$app/"
  (cd "$app" && npm install --no-audit --no-fund --no-update-notifier --loglevel=error "$work"/tarballs/*.tgz "$@" >/dev/null)
}

run_checks() { # app node-bin-folder with-typescript
  local app="$1" bin="$2" typescript="$3" version
  version="$("$bin/node" -v)"
  say "--- $(basename "$app") on Node $version"
  (
    cd "$app"
    export PATH="$bin:$PATH"
    node esm.mjs
    node cjs.cjs
    # The same path on MariaDB/MySQL, in the apps that installed mysql2 (an optional peer).
    if [ -d node_modules/mysql2 ]; then node mysql.mjs; fi
    if [ "$typescript" = yes ]; then
      for config in tsconfig.nodenext.json tsconfig.bundler.json; do
        node node_modules/typescript/bin/tsc -p "$config" || fail "tsc (TypeScript 7) -p $config"
        node node_modules/ts5/bin/tsc -p "$config" || fail "tsc (TypeScript 5) -p $config"
      done
      echo "tsc: app.ts compiles under nodenext and bundler with TypeScript 7 and 5"
    fi
    # `--` keeps npx from taking --help as its own flag; --no: never fetch a package of that name.
    onceflow() { npx --no -- onceflow "$@"; }
    grep -q '^usage: onceflow <command>' <<<"$(onceflow --help)" || fail 'npx onceflow --help'
    for command in migrate relay status dead dead-letters prune; do
      grep -q "^usage: onceflow $command" <<<"$(onceflow "$command" --help)" || fail "npx onceflow $command --help"
    done
    rc=0
    onceflow frobnicate >/dev/null 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "an unknown command exits $rc, not 2"
    rc=0
    onceflow status --limit=x >/dev/null 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "an unknown flag exits $rc, not 2"
    schema="smoke_cli_$RANDOM$RANDOM"
    grep -q 'is up to date' <<<"$(onceflow migrate --schema "$schema")" || fail 'npx onceflow migrate'
    grep -q '"topics":\[\]' <<<"$(onceflow status --schema "$schema" --json)" || fail 'npx onceflow status --json'
    PGOPTIONS=--client-min-messages=warning psql "$DATABASE_URL" -qc "drop schema $schema cascade" >/dev/null
    echo "cli: onceflow --help, every command's --help, exit code 2 on usage errors, migrate and status"
  )
}

# Newest peers, TypeScript 7 and 5, on Node 24 and 22.
newest="$work/app-newest-peers"
make_app "$newest" "${NEWEST_PEERS[@]}" typescript@7.0.2 ts5@npm:typescript@~5.9 @types/node@^24
say "app with the newest peers: $(cd "$newest" && npm ls knex pg kafkajs mysql2 --depth=0 2>/dev/null | grep -oE '(knex|pg|kafkajs|mysql2)@[0-9.]+' | tr '\n' ' ')"
run_checks "$newest" "$(dirname "$(command -v node)")" yes
run_checks "$newest" "$(node_bin 22)" yes

# Lowest supported peers on the lowest supported Node.
lowest="$work/app-lowest-peers"
make_app "$lowest" "${LOWEST_PEERS[@]}"
say "app with the lowest peers: $(cd "$lowest" && npm ls knex pg kafkajs mysql2 --depth=0 2>/dev/null | grep -oE '(knex|pg|kafkajs|mysql2)@[0-9.]+' | tr '\n' ' ')"
run_checks "$lowest" "$(node_bin "$NODE_MIN")" no

# Refused with a clear error: a Node below the minimum, and knex 2.
if [ -n "$OLD_NODE" ]; then
  out="$(cd "$lowest" && "$OLD_NODE" node_modules/@onceflow/relay/dist/cli/bin.js --help 2>&1)" && fail "Node $("$OLD_NODE" -v) was not refused"
  grep -q 'Onceflow needs Node.js >=22.12.0, but found' <<<"$out" || fail "unclear refusal of an old Node: $out"
  say "Node $("$OLD_NODE" -v) refused: $out"
else
  say "no Node older than 22 on this machine: the refusal of an old Node is checked by core's unit tests only"
fi
(cd "$lowest" && npm install --no-audit --no-fund --no-update-notifier --loglevel=error --legacy-peer-deps knex@2 >/dev/null)
out="$(cd "$lowest" && PATH="$(node_bin "$NODE_MIN"):$PATH" node -e 'import("@onceflow/producer").then((p) => new p.OutboxWriter())' 2>&1)" && fail 'knex 2 was not refused'
grep -q 'Onceflow needs knex >=3.1.0 <4, but found 2\.' <<<"$out" || fail "unclear refusal of knex 2: $out"
say "knex 2 refused: $(grep -m 1 -o 'Onceflow needs knex.*' <<<"$out")"
say "all package checks passed"
