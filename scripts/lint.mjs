// Project lint: the layering and habits of docs/style.md that tsc does not check.
// - imports point one way between src/ folders, and across folders only through index.js
// - relative imports end in .js; node built-ins use the node: prefix
// - no child_process.exec (argv arrays only), no console.* outside cli/, no process.exit
//   outside the two main.ts files
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

// Each folder and the folders it may import.
const ALLOWED = {
  base: [],
  seccomp: ['base'],
  caps: ['base'],
  userns: ['base'],
  cgroups: ['base'],
  authz: ['base'],
  network: ['base'],
  notify: ['base', 'seccomp'],
  spec: ['base', 'seccomp', 'caps', 'userns', 'cgroups'],
  runtime: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec'],
  image: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec'],
  engine: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec', 'runtime', 'image', 'network'],
  api: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec', 'runtime', 'image', 'engine', 'authz', 'network'],
  cli: ['base', 'api/types', 'seccomp', 'authz'],
  daemon: ['base', 'seccomp', 'caps', 'userns', 'cgroups', 'spec', 'runtime', 'image', 'engine', 'api', 'authz', 'notify', 'network'],
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

const problems = [];
for (const file of walk(src)) {
  const rel = relative(src, file);
  const folder = rel.split('/')[0];
  const isTest = file.endsWith('.test.ts');
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const where = `src/${rel}:${i + 1}`;
    const m = /^\s*(?:import|export)\b[^'"]*from\s+['"]([^'"]+)['"]/.exec(line) ?? /^\s*import\s+['"]([^'"]+)['"]/.exec(line);
    if (m) {
      const spec = m[1];
      if (spec.startsWith('.')) {
        if (!spec.endsWith('.js')) problems.push(`${where}: relative import must end in .js: ${spec}`);
        const target = relative(src, resolve(dirname(file), spec));
        const tfolder = target.split('/')[0];
        if (tfolder !== folder && !target.startsWith('..')) {
          const allowed = ALLOWED[folder] ?? [];
          const okFolder = allowed.includes(tfolder) || allowed.some((a) => target.startsWith(a));
          if (!okFolder && !isTest) problems.push(`${where}: ${folder}/ may not import ${tfolder}/ (${spec})`);
          const viaIndex = /\/index\.js$/.test(spec) || target === 'api/types.ts' || target.startsWith('api/types');
          if (!viaIndex && !isTest) problems.push(`${where}: import another folder through its index.js: ${spec}`);
        }
      } else if (/^(fs|path|os|net|http|https|crypto|child_process|stream|util|events|url|zlib|tls|worker_threads|dgram|readline|assert|timers|buffer)(\/|$)/.test(spec)) {
        problems.push(`${where}: use the node: prefix: ${spec}`);
      }
    }
    if (/\bexec\(/.test(line) && /child_process|execAsync|\bcp\.exec\(/.test(text) && /(?<![A-Za-z_.])exec\(/.test(line) && !/\/\//.test(line.split('exec(')[0])) {
      if (/import\s*{[^}]*\bexec\b/.test(text)) problems.push(`${where}: child_process.exec is banned; use execFile with an argv array`);
    }
    if (!isTest && folder !== 'cli' && !/^\s*(\*|\/\/)/.test(line) && /\bconsole\.(log|error|warn|info|debug)\(/.test(line)) problems.push(`${where}: no console.* outside cli/`);
    if (!isTest && /\bprocess\.exit\(/.test(line) && !/^(daemon|cli)\/main\.ts$/.test(rel)) problems.push(`${where}: process.exit only in daemon/main.ts and cli/main.ts`);
  });
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('lint: ok');
