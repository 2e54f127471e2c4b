// Bundles the seccomp listener program (dist/src/notify/program.js, built by tsc) into
// dist/bundle/: `npm run build` runs it after tsc. koffi stays outside (native code, loaded
// from node_modules on first use). The serving loop is a chunk of its own, loaded by a
// standby only when it takes over. dist/bundle/meta.json lists the inputs, for the staleness
// check in scripts/run-tests.mjs.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'moat-seccomp-listener': 'dist/src/notify/program.js' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir,
  external: ['koffi'],
  // pino's CommonJS requires Node's built-ins; an ES module has no `require` of its own.
  banner: { js: "import { createRequire as moatCreateRequire } from 'node:module'; const require = moatCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});
writeFileSync(join(outdir, 'meta.json'), JSON.stringify({ inputs: Object.keys(result.metafile.inputs) }, null, 1) + '\n');
