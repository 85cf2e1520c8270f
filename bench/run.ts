// `pnpm bench <name>` runs bench/<name>.ts, whose exported `main(args)` prints a JSON line last.
const names = ['relay', 'consumer', 'e2e', 'memory', 'tracing'] as const;
const name = process.argv[2];
if (name === undefined || !(names as readonly string[]).includes(name)) {
  process.stderr.write(`usage: pnpm bench <${names.join('|')}> [options]\n`);
  process.exit(2);
}
const module = (await import(`./${name}.ts`)) as { main(args: string[]): Promise<void> };
await module.main(process.argv.slice(3));
