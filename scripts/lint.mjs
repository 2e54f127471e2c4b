// Project lint: the layering and habits of docs/style.md that tsc does not check.
// - imports point one way between src/ folders (ALLOWED), across folders only through
//   index.js, and no two folders import each other, directly or through others
// - docs/architecture.md's layer table says what ALLOWED says
// - relative imports end in .js; node built-ins use the node: prefix
// - no child_process.exec (argv arrays only), no console.* outside cli/, no process.exit
//   outside the two main.ts files
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

// Each folder and the folders it may import ('api/types' = that one file). docs/architecture.md
// shows the same table; the check below fails when they differ.
const ALLOWED = {
  base: [],
  seccomp: ['base'],
  caps: ['base'],
  userns: ['base'],
  cgroups: ['base'],
  authz: ['base'],
  'seccomp-workbench': ['base', 'seccomp'],
  notify: ['base', 'seccomp'],
  spec: ['base', 'seccomp', 'caps', 'userns', 'cgroups'],
  runtime: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec'],
  image: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec'],
  engine: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec', 'runtime', 'image'],
  api: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec', 'runtime', 'image', 'engine', 'authz'],
  cli: ['base', 'api/types', 'caps', 'seccomp', 'seccomp-workbench', 'spec', 'runtime', 'authz'],
  daemon: ['base', 'seccomp', 'seccomp-workbench', 'caps', 'userns', 'cgroups', 'spec', 'runtime', 'image', 'engine', 'api', 'authz', 'notify'],
};

function walk(dir) {
  let out = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** `import … from '…'` and `export … from '…'` (also spread over lines), side-effect imports, import('…'). */
const IMPORT = /^[ \t]*(?:import|export)\b[^'";]*?\bfrom\s+['"]([^'"]+)['"]|^[ \t]*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** True when `target` (a path under src/, e.g. 'api/types.ts') is inside an ALLOWED entry. */
function allows(entries, target) {
  return entries.some((a) => target === `${a}.ts` || target.startsWith(`${a}/`));
}

const problems = [];
/** folder -> folders it imports (production files only), with one example each. */
const graph = new Map();

for (const file of walk(src)) {
  const rel = relative(src, file);
  const folder = rel.split('/')[0];
  const isTest = file.endsWith('.test.ts');
  if (!isTest && !rel.includes('/')) problems.push(`src/${rel}: every file belongs to a folder under src/`);
  if (!isTest && !Object.hasOwn(ALLOWED, folder)) problems.push(`src/${rel}: folder ${folder}/ is not in ALLOWED (scripts/lint.mjs) and docs/architecture.md`);
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    const where = `src/${rel}:${text.slice(0, m.index).split('\n').length}`;
    if (spec.startsWith('.')) {
      if (!spec.endsWith('.js')) problems.push(`${where}: relative import must end in .js: ${spec}`);
      const target = relative(src, resolve(dirname(file), spec)).replace(/\.js$/, '.ts');
      const tfolder = target.split('/')[0];
      if (tfolder === folder || target.startsWith('..')) continue;
      if (!isTest) {
        if (!allows(ALLOWED[folder] ?? [], target)) problems.push(`${where}: ${folder}/ may not import ${tfolder}/ (${spec})`);
        const viaIndex = target === `${tfolder}/index.ts` || target === 'api/types.ts';
        if (!viaIndex) problems.push(`${where}: import another folder through its index.js: ${spec}`);
        if (!graph.has(folder)) graph.set(folder, new Map());
        if (!graph.get(folder).has(tfolder)) graph.get(folder).set(tfolder, where);
      }
    } else if (/^(fs|path|os|net|http|https|crypto|child_process|stream|util|events|url|zlib|tls|worker_threads|dgram|readline|assert|timers|buffer)(\/|$)/.test(spec)) {
      problems.push(`${where}: use the node: prefix: ${spec}`);
    }
  }
  lines.forEach((line, i) => {
    const where = `src/${rel}:${i + 1}`;
    if (/\bexec\(/.test(line) && /child_process|execAsync|\bcp\.exec\(/.test(text) && /(?<![A-Za-z_.])exec\(/.test(line) && !/\/\//.test(line.split('exec(')[0])) {
      if (/import\s*{[^}]*\bexec\b/.test(text)) problems.push(`${where}: child_process.exec is banned; use execFile with an argv array`);
    }
    if (!isTest && folder !== 'cli' && !/^\s*(\*|\/\/)/.test(line) && /\bconsole\.(log|error|warn|info|debug)\(/.test(line)) problems.push(`${where}: no console.* outside cli/`);
    if (!isTest && /\bprocess\.exit\(/.test(line) && !/^(daemon|cli)\/main\.ts$/.test(rel)) problems.push(`${where}: process.exit only in daemon/main.ts and cli/main.ts`);
  });
}

// Import circles between folders: the imports themselves, and the ALLOWED table (so that a
// circle cannot be allowed in the first place).
function findCycle(edges) {
  const state = new Map();
  const stack = [];
  const visit = (n) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of edges(n)) {
      if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...new Set([...Object.keys(ALLOWED), ...graph.keys()])].sort()) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}
const importCycle = findCycle((n) => [...(graph.get(n)?.keys() ?? [])].sort());
if (importCycle) {
  const hops = importCycle.slice(1).map((to, i) => `${importCycle[i]} -> ${to} (${graph.get(importCycle[i]).get(to)})`);
  problems.push(`import circle between src/ folders: ${importCycle.join(' -> ')}\n  ${hops.join('\n  ')}`);
}
const allowedCycle = findCycle((n) => (ALLOWED[n] ?? []).map((a) => a.split('/')[0]).filter((a) => a !== n).sort());
if (allowedCycle) problems.push(`ALLOWED permits an import circle: ${allowedCycle.join(' -> ')}`);

// docs/architecture.md: one table row per folder, `| \`folder/\` | owns | may import |`, where
// "may import" lists the same entries as ALLOWED (in backticks, or "nothing").
const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
const documented = new Map();
for (const line of doc.split('\n')) {
  const m = /^\|\s*`([a-z-]+)\/`\s*\|[^|]*\|([^|]*)\|\s*$/.exec(line);
  if (m) documented.set(m[1], [...m[2].matchAll(/`([a-z/-]+?)\/?`/g)].map((x) => x[1]).sort());
}
for (const [folder, allowed] of Object.entries(ALLOWED)) {
  const want = [...allowed].sort();
  const got = documented.get(folder);
  if (got === undefined) problems.push(`docs/architecture.md: no row for ${folder}/ (ALLOWED lists it)`);
  else if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`docs/architecture.md: ${folder}/ may import [${got.join(', ')}], ALLOWED says [${want.join(', ')}]`);
}
for (const folder of documented.keys()) if (!Object.hasOwn(ALLOWED, folder)) problems.push(`docs/architecture.md: row for ${folder}/, which ALLOWED does not list`);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('lint: ok');
