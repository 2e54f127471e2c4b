// Runs the compiled tests with Node's test runner. `unit`: dist/src/**/*.test.js and the
// bench's own arithmetic, dist/bench/**/*.test.js (no root needed); `integration`: dist/test/integration/**/*.test.js (root, runc, conmon), one file
// at a time because they share the machine's cgroups; `faults`: dist/test/faults/**/*.test.js
// (fault injection: crashes, a full disk, corrupt records, killed processes, a fuzzer; heavier
// loops with MOAT_FAULTS_HEAVY=1); `all`: all three, in one runner summary.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const tier = process.argv[2] ?? 'all';

function find(dir) {
  let out = [];
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (n.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

// tsc never deletes output: a test moved or removed in the sources would still run from dist/.
const hasSource = (f) => existsSync(join(root, relative(join(root, 'dist'), f).replace(/\.js$/, '.ts')));
const stale = (f) => {
  if (hasSource(f)) return false;
  console.log(`run-tests: skipping ${relative(root, f)}: its source is gone (stale build output)`);
  return true;
};
// The seccomp listener runs from its bundle (scripts/bundle-listener.mjs): tests must not run
// an older listener than the code they were built with.
function staleBundle() {
  const meta = join(root, 'dist', 'bundle', 'meta.json');
  if (!existsSync(meta)) return 'dist/bundle/ is missing';
  const built = statSync(meta).mtimeMs;
  const newer = JSON.parse(readFileSync(meta, 'utf8')).inputs.filter((f) => !existsSync(join(root, f)) || statSync(join(root, f)).mtimeMs > built);
  return newer.length > 0 ? `dist/bundle/ is older than ${newer.slice(0, 3).join(', ')}` : undefined;
}
const bundleProblem = staleBundle();
if (bundleProblem !== undefined) {
  console.error(`run-tests: ${bundleProblem}: run \`npm run build\` (tsc, then the listener's bundle)`);
  process.exit(1);
}
const unit = [...find(join(root, 'dist', 'src')), ...find(join(root, 'dist', 'bench'))].filter((f) => !stale(f));
const integration = find(join(root, 'dist', 'test', 'integration')).filter((f) => !stale(f));
const faults = find(join(root, 'dist', 'test', 'faults')).filter((f) => !stale(f));
const tiers = { unit, integration, faults, all: [...unit, ...integration, ...faults] };
if (!(tier in tiers)) {
  console.error(`run-tests: unknown tier ${tier}: one of ${Object.keys(tiers).join(', ')}`);
  process.exit(2);
}
const files = tiers[tier];
if (files.length === 0) {
  console.error(`run-tests: no compiled tests for tier ${tier}; run the build first`);
  process.exit(1);
}
console.log(`run-tests: ${files.length} files (${tier})`);
const env = { ...process.env, ENGINE_TEST_ROOT: process.env.ENGINE_TEST_ROOT ?? '1' };
// Integration files start daemons and containers: run files one at a time.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files.map((f) => relative(root, f))], {
  cwd: root,
  stdio: 'inherit',
  env,
});
process.exit(r.status ?? 1);
