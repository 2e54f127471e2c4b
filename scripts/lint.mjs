// Project lint: the layering and habits of docs/style.md that tsc does not check.
// - imports point one way between src/ folders (ALLOWED), across folders only through
//   index.js, and no two folders import each other, directly or through others
// - docs/architecture.md's layer table says what ALLOWED says
// - relative imports end in .js; node built-ins use the node: prefix
// - no child_process.exec (argv arrays only), no console.* outside cli/, no process.exit
//   outside the two main.ts files
// - container-controlled trees (rootfs, upper dir, volumes, bind sources) are touched only
//   through src/sys (docs/security.md): see FS_ALLOWED below
// - the API layer only speaks HTTP: nothing under api/ imports cgroups (ALLOWED),
//   node:child_process, or reads /proc (stats, top and paths are engine calls)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

// Each folder and the folders it may import. docs/architecture.md
// shows the same table; the check below fails when they differ.
const ALLOWED = {
  base: [],
  sys: ['base'],
  docker: ['base'],
  seccomp: ['base'],
  caps: ['base'],
  userns: ['base'],
  cgroups: ['base'],
  network: ['base'],
  authz: ['base', 'sys', 'docker'],
  'seccomp-workbench': ['base', 'seccomp'],
  notify: ['base', 'sys', 'seccomp'],
  spec: ['base', 'docker', 'seccomp', 'caps', 'userns'],
  runtime: ['base', 'sys', 'spec'],
  image: ['base', 'sys'],
  engine: ['base', 'sys', 'docker', 'seccomp', 'seccomp-workbench', 'caps', 'cgroups', 'spec', 'runtime', 'image', 'network'],
  build: ['base', 'sys', 'docker', 'image', 'engine'],
  api: ['base', 'docker', 'image', 'engine', 'authz', 'network', 'build'],
  cli: ['base', 'docker', 'caps', 'seccomp', 'seccomp-workbench', 'spec', 'runtime', 'authz'],
  daemon: ['base', 'sys', 'seccomp', 'caps', 'userns', 'spec', 'runtime', 'image', 'engine', 'api', 'authz', 'notify', 'network'],
};

// The rule of docs/security.md, enforced: in the folders that handle containers, a file may
// import node:fs only if it is listed here with the daemon-owned paths it touches. Trees a
// container can write go through src/sys (openat2 relative to an fd on the tree's root).
// On top of the list, no fs call anywhere may reach *into* a container tree by the names
// the engine uses for them, no host file tool (cp, tar, ...) may be run on paths, and koffi
// is loaded only by src/sys (sys/libc.ts is the one binding module).
const FS_SCOPED = ['engine', 'image', 'runtime', 'spec', 'api', 'daemon', 'build'];
const FS_ALLOWED = {
  'engine/engine.ts': 'the container log in the bundle dir (stat for log followers)',
  'engine/create.ts': 'the bundle dir it makes, its create-volumes list',
  'engine/etc-files.ts': 'the /etc files moatd writes into the bundle dir (hostname, hosts, resolv.conf)',
  'engine/host.ts': "/proc of container pids (top), the host's /etc/resolv.conf, the cgroup parents moatd made, chmod of the bundle dir",
  'engine/binds.ts': 'creates the staging dir and mount points in the daemon-owned bundle dir',
  'engine/host-setup.ts': "conmon's ctl FIFO in the bundle dir; host device nodes under /dev named by the operator, and their /sys/dev/block entries",
  'engine/limits.ts': 'cgroup files of the cgroups moatd made, and of its own (what its blkio controller can apply)',
  'engine/logs.ts': 'the container log conmon writes in the bundle dir',
  'engine/log-files.ts': 'the container log and its rotated files in the bundle dir (conmon writes them; moatd links and renames)',
  'engine/store.ts': 'container records in <data-root>/containers/<id>/; a removed container\'s dir renamed into <data-root>/container-trash (removal goes through src/sys)',
  'engine/volumes.ts': 'volume records and dirs under <data-root>/volumes (their content goes through src/sys)',
  'image/builtin.ts': 'builds the built-in image in a private temp dir of its own',
  'image/overlay.ts': 'creates the upper/work/merged dirs in the bundle dir before mounting',
  'image/store.ts': 'the content store under <data-root>/image (layers extract through src/sys)',
  'image/archive.ts': 'save/load: kept blobs of the content store and a private temp dir under <data-root>/image',
  'image/pull.ts': "downloaded blobs in the content store's temp dir, verified before extraction",
  'image/push.ts': 'kept blobs of the content store, read for upload',
  'image/registry/client.ts': '<config-dir>/certs.d CA and client certificates; blob downloads into the content store temp dir',
  'image/service.ts': 'the image trust policy file and its public keys, named by the operator',
  'runtime/runner.ts': "config.json, conmon's FIFOs, pid files and logs in the bundle dir; exec dirs and attach-socket links in the exec root; runc's state dir",
  'runtime/runc-direct.ts': "runc's state dir under the exec root (state.json, exec.fifo), /proc/<init pid>/stat, the cgroup dirs runc's state names",
  'runtime/conmon.ts': "conmon's stderr file in the bundle or exec dir",
  'runtime/exit-files.ts': "conmon's exit files in the exec root",
  'runtime/resize.ts': "conmon's ctl FIFO in the bundle or exec dir",
  'runtime/bundle.ts': 'writes config.json into a bundle dir the caller made (moat seccomp record, test probes), never into a rootfs',
  'runtime/seqpacket.ts': "conmon's attach socket in the exec root",
  'build/context.ts': 'the build context: a private temp dir under <data-root>/image/tmp (extracted through src/sys)',
  'build/builder.ts': "ADD's downloads and archives in the build's private temp dir; an archive is read from an fd src/sys opened",
  'build/copy.ts': 'reads from fds src/sys opened (no paths)',
  'api/server.ts': 'realpath of requested host paths for the authz canonical form (mounts re-check them through src/sys)',
  'daemon/authz.ts': 'policy files and plugin specs named by the operator; realpath for the authz canonical form',
  'daemon/listeners.ts': 'the API socket and TLS files',
  'daemon/main.ts': 'daemon config file, pid file, data and exec roots',
};
// Names the engine uses for container trees: an fs call whose path goes into one of them
// (`join(rootfs, ...)`, `join(dir, 'upper', ...)`, `${rootfs}/...`) or names a bind source.
const TREE = 'rootfs|merged|upper|lowers?|layerDirs|dataPath\\([^)]*\\)|_data|volumeDir|hostPath|bindSource';
const INTO_TREE = [
  new RegExp(`join\\([^;]*?\\b(?:${TREE})\\b['"]?\\s*,`),
  new RegExp(`\\$\\{[^}]*\\b(?:${TREE})\\b[^}]*\\}/`),
  new RegExp(`\\b(?:${TREE})\\b['"]?\\s*\\+\\s*['"\`]/`),
  /\bm\.source\b|\bbindSources?\b/,
];
const HOST_FILE_TOOLS = /\bexecFile(?:Sync)?\(\s*['"](?:cp|mv|rm|tar|rsync|ln|mkdir|chown|chmod|find|install)['"]/;
// Files of another folder that may be imported directly, not through its index.js: the libc
// binding alone, for the notify listener process, which would otherwise load all of sys/ at
// start.
const DIRECT_IMPORTS = new Set(['sys/libc.ts']);

/** Local names bound by value imports of node:fs / node:fs/promises (`fs.` for a namespace). */
function fsNames(text) {
  const names = [];
  for (const m of text.matchAll(/^\s*import\s+(?!type\b)([^;]*?)\s+from\s+['"]node:fs(?:\/promises)?['"]/gm)) {
    const spec = m[1];
    const braces = /\{([^}]*)\}/.exec(spec);
    if (braces) {
      for (const part of braces[1].split(',')) {
        const p = part.trim();
        if (p === '' || p.startsWith('type ')) continue;
        names.push(p.split(/\s+as\s+/).pop().trim());
      }
    }
    const def = /^(?:\*\s+as\s+)?([A-Za-z_$][\w$]*)/.exec(spec.trim());
    if (def && !spec.trim().startsWith('{')) names.push(`${def[1]}.`);
  }
  return names;
}

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
        const viaIndex = target === `${tfolder}/index.ts` || DIRECT_IMPORTS.has(target);
        if (!viaIndex) problems.push(`${where}: import another folder through its index.js: ${spec}`);
        if (!graph.has(folder)) graph.set(folder, new Map());
        if (!graph.get(folder).has(tfolder)) graph.get(folder).set(tfolder, where);
      }
    } else if (/^(fs|path|os|net|http|https|crypto|child_process|stream|util|events|url|zlib|tls|worker_threads|dgram|readline|assert|timers|buffer)(\/|$)/.test(spec)) {
      problems.push(`${where}: use the node: prefix: ${spec}`);
    }
  }
  if (!isTest && folder !== 'sys' && folder !== 'cli') {
    const names = fsNames(text);
    if (names.length > 0 && FS_SCOPED.includes(folder) && FS_ALLOWED[rel] === undefined) {
      problems.push(`src/${rel}: imports node:fs; container trees go through src/sys, and a file touching only daemon-owned paths must be listed in FS_ALLOWED (scripts/lint.mjs) with the paths it touches`);
    }
    const calls = names.map((n) => (n.endsWith('.') ? new RegExp(`\\b${n.slice(0, -1)}\\.\\w+\\(`) : new RegExp(`(?<![\\w.])${n.replace(/\$/g, '\\$')}\\(`)));
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line) || /\/\/ lint: daemon-owned\b/.test(line) || /\/\/ lint: daemon-owned\b/.test(lines[i - 1] ?? '')) return;
      if (calls.some((c) => c.test(line)) && INTO_TREE.some((r) => r.test(line))) {
        problems.push(`src/${rel}:${i + 1}: node:fs call on a path inside a container tree; use src/sys (openat2 from the tree's root fd)`);
      }
      if (HOST_FILE_TOOLS.test(line)) problems.push(`src/${rel}:${i + 1}: host file tools follow symlinks in container trees; use src/sys`);
    });
  }
  if (!isTest && folder === 'api') {
    if (/from\s+['"]node:child_process['"]|require\(\s*['"](node:)?child_process['"]/.test(text)) problems.push(`src/${rel}: the API layer only speaks HTTP: no node:child_process (run processes in the engine)`);
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return;
      if (/['"`]\/proc(\/|['"`])/.test(line) && fsNames(text).length > 0) problems.push(`src/${rel}:${i + 1}: the API layer only speaks HTTP: it does not read /proc (ask the engine)`);
    });
  }
  if (!isTest && folder !== 'sys' && /^\s*import\s+(?!type\b)[^;]*from\s+['"]koffi['"]|require\(\s*['"]koffi['"]\s*\)/m.test(text)) {
    problems.push(`src/${rel}: koffi is loaded only by src/sys (add the binding to src/sys/libc.ts)`);
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

// The picture's layers (`  3   engine (…)  authz (…)`, base on the line without a number):
// every folder is on one line, and may import only folders on lower lines.
const layerOf = new Map();
const picture = /```\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
for (const line of picture.split('\n')) {
  const m = /^\s*(\d+)?\s+(.*)$/.exec(line);
  if (!m) continue;
  const layer = m[1] === undefined ? -1 : Number(m[1]);
  for (const word of m[2].replace(/\([^)]*\)/g, ' ').split(/\s+/)) if (Object.hasOwn(ALLOWED, word)) layerOf.set(word, layer);
}
for (const [folder, allowed] of Object.entries(ALLOWED)) {
  if (!layerOf.has(folder)) {
    problems.push(`docs/architecture.md: the picture has no layer for ${folder}/`);
    continue;
  }
  for (const a of allowed) {
    const target = a.split('/')[0];
    if (layerOf.has(target) && layerOf.get(target) >= layerOf.get(folder)) problems.push(`docs/architecture.md: ${folder}/ (layer ${layerOf.get(folder)}) may import ${target}/ (layer ${layerOf.get(target)}): the picture must put it lower`);
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('lint: ok');
