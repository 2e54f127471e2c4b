// A bounded fuzzer over every route of the Engine API (the router's own list): random and
// mutated path parameters, queries and bodies, sent 4 at a time, streams cut by a timeout.
// No client input may get a 5xx (501 "not implemented" aside), end the daemon, or leave
// something half-created: afterwards the full consistency check passes and the stock docker
// CLI can decode every container moatd lists (`docker inspect`). Issue 12, finding 6 and the
// fuzzer of "Deliver also"; the bad inputs the issue names are checked one by one first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { run, sleep, waitLog } from '../helpers/containers.js';
import { buildRouter } from '../../src/api/index.js';
import { silentLogger } from '../../src/base/index.js';
import { hostConfigSchema, containerConfigShape } from '../../src/docker/index.js';
import { checkConsistency, safetyNetHits } from './consistency.js';

const HEAVY = process.env['MOAT_FAULTS_HEAVY'] === '1';
const BUDGET_MS = Number(process.env['MOAT_FUZZ_MS'] ?? (HEAVY ? 300_000 : 25_000));
const MAX_REQUESTS = Number(process.env['MOAT_FUZZ_REQUESTS'] ?? (HEAVY ? 20_000 : 1500));
const IN_FLIGHT = 4;
const TIMEOUT_MS = 800;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Reply {
  status: number;
  contentType: string;
  body: string;
  timedOut: boolean;
}

function send(d: TestDaemon, method: string, path: string, body: Buffer | undefined, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve) => {
    const h = { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) };
    let settled = false;
    const done = (r: Reply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = http.request({ socketPath: d.socket, method, path, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 4096) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8', 0, 4096), timedOut: false }));
      res.on('error', () => done({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: '', timedOut: true }));
    });
    // Streams (logs -f, events, attach, stats, wait) are cut: a client hanging up is part of the test.
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: -1, contentType: '', body: '', timedOut: true });
    }, TIMEOUT_MS);
    req.on('error', (err) => done({ status: 0, contentType: '', body: String(err), timedOut: false }));
    req.end(body);
  });
}

/** A generator of hostile values, biased to the edges of JSON and of Go's types. */
function values(rnd: () => number, safeDir: string) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const str = (): string =>
    pick([
      '', 'a', 'busybox', 'x'.repeat(300), '..', '../..', '%00', '\u0000', 'ü∂ß', '😀', ' ', ':', 'a:b:c', 'rw', 'rwm', 'z',
      'CAP_SYS_ADMIN', 'ALL', 'host', 'none', 'private', 'container:nosuch', 'SIGKILL', '9', '-1', 'on-failure', 'tmpfs', 'volume',
      'bind', `${safeDir}/src`, `${safeDir}/src:/mnt`, 'name:/data', '/data', 'nofile=1:2', 'seccomp=unconfined', 'no-new-privileges',
      'net.ipv4.ip_forward', 'kernel.shmmax', '0-1', '1,2', 'c 1:3 rwm', 'json-file', 'k8s-file', 'syslog', `{"a":1}`, '[]',
    ]);
  const num = (): number => pick([0, 1, -1, 1.5, 65535, 65536, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, 2 ** 63, 2 ** 64, -(2 ** 63), 1e308, -0, 100, 1024]);
  const any = (depth = 0): unknown => {
    const k = rnd();
    if (k < 0.15) return null;
    if (k < 0.25) return rnd() < 0.5;
    if (k < 0.45) return num();
    if (k < 0.65) return str();
    if (depth > 2) return str();
    if (k < 0.82) return Array.from({ length: Math.floor(rnd() * 3) }, () => any(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rnd() * 3); i > 0; i--) o[rnd() < 0.5 ? str() : pick(['Name', 'Soft', 'Hard', 'PathOnHost', 'Type', 'Source', 'Target', 'Test', 'Config'])] = any(depth + 1);
    return o;
  };
  return { pick, str, num, any };
}

const HOST_FIELDS = Object.keys(hostConfigSchema.shape);
const CONFIG_FIELDS = Object.keys(containerConfigShape);
const HARMLESS_CMDS: unknown[] = [['true'], ['sh', '-c', 'exit 3'], ['nosuch-command'], ['sleep', '0.2'], 'true', [], null];

/** Keep a fuzzed create body from touching the host: bind sources under the test's own dir, no devices but /dev/null, harmless commands. */
function tame(body: Record<string, unknown>, safeDir: string, rnd: () => number): Record<string, unknown> {
  const safePath = (p: unknown): unknown => (typeof p === 'string' && p.startsWith('/') ? `${safeDir}/src` : p);
  body['Cmd'] = HARMLESS_CMDS[Math.floor(rnd() * HARMLESS_CMDS.length)];
  delete body['Entrypoint'];
  const hc = body['HostConfig'];
  if (hc && typeof hc === 'object' && !Array.isArray(hc)) {
    const h = hc as Record<string, unknown>;
    delete h['Privileged'];
    if (Array.isArray(h['Binds'])) h['Binds'] = h['Binds'].map((b) => (typeof b === 'string' && b.startsWith('/') ? `${safeDir}/src${b.slice(b.indexOf(':') < 0 ? b.length : b.indexOf(':'))}` : b));
    else if (typeof h['Binds'] === 'string') h['Binds'] = safePath(h['Binds']);
    if (Array.isArray(h['Mounts'])) for (const m of h['Mounts']) if (m && typeof m === 'object') (m as Record<string, unknown>)['Source'] = safePath((m as Record<string, unknown>)['Source']);
    if (Array.isArray(h['Devices'])) for (const dev of h['Devices']) if (dev && typeof dev === 'object') (dev as Record<string, unknown>)['PathOnHost'] = '/dev/null';
  }
  return body;
}

test('the inputs issue 12 names are 400s naming the field, and inspect keeps working (finding 6)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['Devices [{}]', { HostConfig: { Devices: [{}] } }, /HostConfig\.Devices\[0\]\.PathOnHost/],
    ['Ulimits [null]', { HostConfig: { Ulimits: [null] } }, /HostConfig\.Ulimits\[0\]/],
    ['Mounts [null]', { HostConfig: { Mounts: [null] } }, /HostConfig\.Mounts\[0\]/],
    ['Config.Volumes {"/a": 5}', { Volumes: { '/a': 5 } }, /Config\.Volumes\["\/a"\]/],
    ['ConsoleSize [-1, 2^40]', { HostConfig: { ConsoleSize: [-1, 2 ** 40] } }, /HostConfig\.ConsoleSize\[0\]/],
  ];
  for (const [what, extra, field] of cases) {
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], ...extra });
    assert.equal(r.status, 400, `${what}: ${r.body.toString()}`);
    assert.match(r.json<{ message: string }>().message, field, what);
  }
  // A device given by its host path only is Docker's shorthand: accepted, and it works.
  const dev = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Devices: [{ PathOnHost: '/dev/null' }] } });
  assert.equal(dev.status, 201, dev.body.toString());
  const badFilter = await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: ['('] }))}`);
  assert.equal(badFilter.status, 400, badFilter.body.toString());
  assert.match(badFilter.json<{ message: string }>().message, /invalid filter 'name'/);
  assert.deepEqual(await checkConsistency(d, { dockerInspect: true }), []);
});

test('a bounded fuzzer over every route: no 5xx, no crash, nothing half-created', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  // A fixed seed by default: `make test` is a regression run that gives the same inputs every
  // time (timing still varies); explore with MOAT_FUZZ_SEED=random or a number.
  const seedEnv = process.env['MOAT_FUZZ_SEED'];
  const seed = seedEnv === 'random' ? Date.now() % 1_000_000 : Number(seedEnv ?? 424242);
  const rnd = prng(seed);
  const safeDir = join(d.root, 'fuzz');
  mkdirSync(join(safeDir, 'src'), { recursive: true });
  const v = values(rnd, safeDir);
  const pid = d.pid();

  // Things for path parameters to name.
  const running = await run(d, ['sh', '-c', 'echo ready; exec sleep 1000'], { OpenStdin: true }, 'fz-run');
  await waitLog(d, running, 'ready');
  const stopped = (await d.api('POST', '/containers/create?name=fz-stop', { Image: 'busybox', Cmd: ['true'] })).json<{ Id: string }>().Id;
  assert.equal((await d.api('POST', '/volumes/create', { Name: 'fz-vol' })).status, 201);
  const exec = (await d.api('POST', `/containers/${running}/exec`, { Cmd: ['true'] })).json<{ Id: string }>().Id;
  const containers = [running, stopped, 'fz-run', 'fz-stop', running.slice(0, 12)];
  const execs = [exec];

  const routes = buildRouter({ engine: {} as never, images: {} as never, info: {} as never, log: silentLogger() }).list();
  assert.ok(routes.length > 40, `the router lists its routes (${routes.length})`);
  const garbage = (): string => encodeURIComponent(v.pick(['nosuch', '', 'x'.repeat(300), '..', '%', 'a b', '😀', '0', 'ffff']));
  const param = (method: string, pattern: string, key: string): string => {
    if (key === 'name' && pattern.startsWith('/images')) {
      // Never delete or prune the image everything else needs.
      if (method === 'DELETE') return garbage();
      return v.pick(['busybox', 'busybox:latest', 'nosuch:tag', 'a/b/c', 'x'.repeat(300), garbage()]);
    }
    if (key === 'name') return v.pick(['fz-vol', 'nosuch', garbage()]);
    if (pattern.startsWith('/exec')) return rnd() < 0.7 ? v.pick(execs) : garbage();
    return rnd() < 0.75 ? v.pick(containers) : garbage();
  };
  const QUERY_KEYS = ['all', 'filters', 'limit', 't', 'timeout', 'signal', 'name', 'force', 'v', 'stream', 'one-shot', 'follow', 'stdout', 'stderr', 'stdin', 'logs', 'tail', 'since', 'until', 'timestamps', 'h', 'w', 'condition', 'ps_args', 'repo', 'tag', 'changes', 'message', 'fromSrc', 'fromImage', 'size', 'detachKeys'];
  const queryValue = (k: string): string => {
    if (k === 'filters') return v.pick(['{', '[]', 'null', '{"name":["("]}', '{"status":["exited"]}', '{"label":{"a":true}}', '{"nosuch":["x"]}', '{"until":["abc"]}', '{"name":[5]}', JSON.stringify({ [v.str()]: [v.str()] })]);
    if (k === 'ps_args') return v.pick(['aux', '-ef', '--nosuch', 'o pid,comm']);
    if (k === 'fromSrc') return v.pick(['-', 'http://127.0.0.1:1/x', '']);
    return String(rnd() < 0.5 ? v.str() : v.num());
  };
  const body = (method: string, pattern: string): { buf?: Buffer; type?: string } => {
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE') return {};
    const k = rnd();
    if (k < 0.1) return { buf: Buffer.from(v.pick(['{', 'null', '[]', '"x"', '{"a":', '\u0000\u0001', 'x'.repeat(10_000)])), type: 'application/json' };
    if (k < 0.15) return { buf: Buffer.from('{}'), type: v.pick(['text/plain', 'application/x-tar', '']) };
    let doc: unknown;
    if (pattern === '/containers/create') {
      const b: Record<string, unknown> = { Image: v.pick(['busybox', 'busybox', 'nosuch', '']), HostConfig: {} };
      for (let i = 1 + Math.floor(rnd() * 3); i > 0; i--) {
        if (rnd() < 0.6) (b['HostConfig'] as Record<string, unknown>)[v.pick(HOST_FIELDS)] = v.any();
        else b[v.pick(CONFIG_FIELDS)] = v.any();
      }
      doc = tame(b, safeDir, rnd);
    } else if (pattern.endsWith('/exec')) doc = { Cmd: v.pick(HARMLESS_CMDS), [v.pick(['Env', 'User', 'WorkingDir', 'Tty', 'ConsoleSize', 'AttachStdin', 'Privileged', 'DetachKeys'])]: v.any() };
    else if (pattern === '/volumes/create') doc = { Name: rnd() < 0.5 ? v.str() : `fz${Math.floor(rnd() * 1e6)}`, [v.pick(['Driver', 'DriverOpts', 'Labels'])]: v.any() };
    else doc = rnd() < 0.5 ? v.any() : {};
    return { buf: Buffer.from(JSON.stringify(doc) ?? 'null'), type: 'application/json' };
  };

  const failures: string[] = [];
  const counts = { sent: 0, timedOut: 0, upstream: 0, byClass: new Map<string, number>() };
  /** Routes that talk to a registry: pull, push, login. */
  const upstreamRoute = (what: string): boolean => /^POST (\/v[\d.]+)?\/(auth|images\/create|images\/[^ ]*\/push)\b/.test(what);
  const start = Date.now();
  let next = 0;
  const one = async (): Promise<void> => {
    const route = routes[next++ % routes.length]!;
    let path = route.pattern.replace(/\{(\w+)\*?\}/g, (_m, key: string) => param(route.method, route.pattern, key));
    if (route.pattern === '/images/prune') {
      // Prune only with filters it refuses: a real prune would remove the image under test.
      path += `?filters=${encodeURIComponent(v.pick(['{', '{"nosuch":["x"]}', '[]']))}`;
    } else {
      const q = new URLSearchParams();
      for (let i = Math.floor(rnd() * 4); i > 0; i--) {
        const k = v.pick(QUERY_KEYS);
        q.append(k, queryValue(k));
      }
      if (q.size > 0) path += `?${q.toString()}`;
    }
    if (rnd() < 0.2) path = `/v${v.pick(['1.24', '1.41', '1.47', '1.99', '0.1', 'x'])}${path}`;
    const b = body(route.method, route.pattern);
    const r = await send(d, route.method, path, b.buf, b.type !== undefined ? { 'Content-Type': b.type } : {});
    counts.sent++;
    if (r.timedOut) counts.timedOut++;
    const cls = r.status <= 0 ? (r.timedOut ? 'cut' : 'no answer') : r.status === 501 ? '501' : `${Math.floor(r.status / 100)}xx`;
    counts.byClass.set(cls, (counts.byClass.get(cls) ?? 0) + 1);
    if (r.status === 201 && route.pattern === '/containers/create') {
      const id = (JSON.parse(r.body) as { Id: string }).Id;
      containers.push(id);
    }
    if (r.status === 201 && route.pattern.endsWith('/exec')) execs.push((JSON.parse(r.body) as { Id: string }).Id);
    const what = `${route.method} ${path}${b.buf ? ` ${b.buf.toString('utf8', 0, 300)}` : ''}`;
    if (r.status === 0) failures.push(`no answer (${r.body}): ${what}`);
    // 503 from a registry route: the upstream registry is unreachable (no network here), which
    // is not an answer to the client's input; every other 5xx is a daemon bug.
    else if (r.status === 503 && upstreamRoute(what) && /registry|getaddrinfo|ECONNREFUSED|ENOTFOUND/.test(r.body)) counts.upstream += 1;
    else if (r.status >= 500 && r.status !== 501) failures.push(`${r.status} ${r.body.slice(0, 300)}: ${what}`);
    else if (r.status >= 400 && !r.timedOut && r.contentType !== 'application/json') failures.push(`${r.status} with Content-Type ${r.contentType}: ${what}`);
  };
  let gaveUp = false;
  const client = async (): Promise<void> => {
    while (!gaveUp && counts.sent < MAX_REQUESTS && Date.now() - start < BUDGET_MS && failures.length < 20) {
      await one();
      if (counts.sent % 100 === 0) {
        const ping = await d.api('GET', '/_ping').catch(() => ({ status: 0 }));
        if (ping.status !== 200) {
          failures.push(`moatd stopped answering after ${counts.sent} requests`);
          gaveUp = true;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => client()));
  t.diagnostic(`seed ${seed} (MOAT_FUZZ_SEED): ${counts.sent} requests over ${routes.length} routes in ${Date.now() - start} ms; ${[...counts.byClass].map(([k, n]) => `${k}: ${n}`).join(', ')}; ${counts.timedOut} streams cut, ${counts.upstream} registry-unreachable 503s`);
  assert.deepEqual(failures, [], `seed ${seed}`);
  assert.equal(d.pid(), pid, 'moatd never restarted');
  assert.deepEqual(safetyNetHits(d), [], 'nothing reached the safety net');
  // Let started containers and execs finish, then everything must agree.
  await sleep(1500);
  assert.deepEqual(await checkConsistency(d, { anonymousVolumesOwned: false, dockerInspect: true }), []);
});
