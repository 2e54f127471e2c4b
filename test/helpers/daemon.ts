// A real moatd for integration tests: temporary data root, exec root, socket and cgroup
// parent; stopped, killed or restarted on demand; everything it made removed afterwards.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, chmodSync, openSync, closeSync, readdirSync, readFileSync, existsSync, rmSync, rmdirSync } from 'node:fs';
import http from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { stopListenerProcess } from '../../src/notify/index.js';
import { NetworkDriver } from '../../src/network/index.js';
import { silentLogger } from '../../src/base/index.js';
import { freeDaemonSubnet } from './network.js';

/** The host's runc binary (Debian installs /usr/sbin/runc), for tests that wrap it. */
export const REAL_RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p)) ?? 'runc';

export const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: <T = unknown>() => T;
}

export interface TestDaemon {
  readonly root: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly socket: string;
  /** `unix://…` for DOCKER_HOST. */
  readonly host: string;
  readonly cgroupParent: string;
  readonly logFile: string;
  /** The default bridge's host interface and its /24 (`10.x.y.0/24`), this daemon's alone. */
  readonly bridge: string;
  readonly bridgeSubnet: { subnet: string; prefix: string };
  pid(): number;
  /** An API call; `body` objects are sent as JSON. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  /** SIGTERM, wait for exit (containers keep running). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Start again on the same roots; `change` replaces start options from this start on. */
  start(change?: Pick<StartOptions, 'args' | 'defaultBridge'>): Promise<void>;
  /** Remove every container, stop the daemon, end what it left, remove mounts, cgroups, dirs. */
  cleanup(): Promise<void>;
  /** Run the moat CLI against this daemon. */
  moat(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
}

export interface StartOptions {
  args?: string[];
  /**
   * Tests never reach the internet: every test daemon runs with `--block-registry docker.io`,
   * so a short image name fails at once instead of after a DNS query. Set to let a test
   * configure registries itself (it must then block Docker Hub too, or use a mirror).
   */
  allowDockerHub?: boolean;
  /** Environment for moatd. */
  env?: Record<string, string>;
  /** Mount a tmpfs of this size (e.g. `48m`) as the data root before the first start (a disk that can fill). */
  tmpfsDataRoot?: string;
  /** false: `--bridge none` instead of this daemon's own bridge and subnet. */
  defaultBridge?: boolean;
}

/** One HTTP request over a unix socket (moatd, dockerd, or a plugin); objects go as JSON. */
export function request(socket: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const h: Record<string, string> = { ...headers };
    if (payload) {
      h['Content-Type'] ??= 'application/json';
      h['Content-Length'] = String(payload.length);
    }
    const req = http.request({ socketPath: socket, method, path, headers: h, timeout: 120_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: <T>() => JSON.parse(buf.toString('utf8')) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.end(payload);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `needle` (processes our daemon started). */
export function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** Every cgroup directory named `name` directly under this process's own cgroups. */
export function cgroupDirsOf(name: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === undefined || path === undefined) continue;
    const base = ctrls === '' ? '/sys/fs/cgroup/unified' : `/sys/fs/cgroup/${ctrls.startsWith('name=') ? ctrls.slice(5) : ctrls}`;
    const dir = join(base, path, name);
    if (existsSync(dir)) out.push(dir);
  }
  return out;
}

/** Remove a cgroup directory and the empty ones below it; one that still has tasks stays. */
export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // still has tasks: leave it for the caller to see
  }
}

/**
 * What the daemon's networks left on the host (its default bridge's guard rules, bridges,
 * endpoints of containers that outlived it), by the driver on the same roots; the data
 * root of a --userns-remap daemon is a `<uid>.<gid>` directory below it.
 */
async function removeNetworks(dataRoot: string, execRoot: string, bridge: string, prefix: string): Promise<void> {
  const roots = [dataRoot, ...(existsSync(dataRoot) ? readdirSync(dataRoot).filter((n) => /^\d+\.\d+$/.test(n)).map((n) => join(dataRoot, n)) : [])];
  for (const root of roots) {
    if (!existsSync(join(root, 'network'))) continue;
    try {
      const driver = await NetworkDriver.open({ dataRoot: root, execRoot, log: silentLogger(), defaultBridge: { name: bridge, bip: `${prefix}.1/24`, icc: false }, defaultHostIp: '127.0.0.1' });
      const problems = await driver.removeAll();
      if (problems.length > 0) process.stderr.write(`test daemon network cleanup: ${problems.join('; ')}\n`);
    } catch (err) {
      process.stderr.write(`test daemon network cleanup: ${String(err)}\n`);
    }
  }
}

export async function startDaemon(opts: StartOptions = {}): Promise<TestDaemon> {
  const root = mkdtempSync('/tmp/mt-');
  // A remapped container root must traverse to its rootfs (o+x), as with Docker.
  chmodSync(root, 0o711);
  const dataRoot = join(root, 'd');
  const execRoot = join(root, 'r');
  const socket = join(execRoot, 'moat.sock');
  const cgroupParent = `moat-test-${randomBytes(4).toString('hex')}`;
  // Every test daemon has its own default bridge and subnet: parallel daemons never share one.
  const bridge = `mt${cgroupParent.slice('moat-test-'.length)}`;
  const bridgeSubnet = freeDaemonSubnet();
  // User networks without a subnet come from a pool of this daemon's own (eight /27s).
  const pool = freeDaemonSubnet();
  const poolArgs = ['--default-address-pool', `base=${pool.subnet},size=27`];
  const current: Pick<StartOptions, 'args' | 'defaultBridge'> = { ...(opts.args !== undefined ? { args: opts.args } : {}), ...(opts.defaultBridge !== undefined ? { defaultBridge: opts.defaultBridge } : {}) };
  const bridgeArgs = (): string[] => (current.defaultBridge === false ? ['--bridge', 'none', ...poolArgs] : ['--bridge', bridge, '--bip', `${bridgeSubnet.prefix}.1/24`, ...poolArgs]);
  const logFile = join(root, 'moatd.log');
  let child: ChildProcess | undefined;
  if (opts.tmpfsDataRoot !== undefined) {
    mkdirSync(dataRoot, { mode: 0o711 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${opts.tmpfsDataRoot},mode=0711`, 'moat-test-data', dataRoot]);
  }

  async function start(change?: Pick<StartOptions, 'args' | 'defaultBridge'>): Promise<void> {
    if (change !== undefined) Object.assign(current, change);
    const fd = openSync(logFile, 'a');
    child = spawn(join(REPO, 'bin/moatd'), ['--data-root', dataRoot, '--exec-root', execRoot, '--cgroup-parent', cgroupParent, '--log-level', 'debug', ...bridgeArgs(), ...(opts.allowDockerHub ? [] : ['--block-registry', 'docker.io']), ...(current.args ?? [])], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...(opts.env ?? {}) },
    });
    closeSync(fd);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    for (let i = 0; i < 300; i++) {
      const done = await Promise.race([exited.then(() => true), sleep(50).then(() => false)]);
      if (done) throw new Error(`moatd exited during start:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
      if (existsSync(socket)) {
        const ok = await request(socket, 'GET', '/_ping').then((r) => r.status === 200, () => false);
        if (ok) return;
      }
    }
    throw new Error(`moatd did not answer within 15 s:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
  }

  async function waitExit(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((r) => c.once('exit', () => r()));
  }

  const d: TestDaemon = {
    root,
    dataRoot,
    execRoot,
    socket,
    host: `unix://${socket}`,
    cgroupParent,
    logFile,
    bridge,
    bridgeSubnet,
    pid: () => child?.pid ?? 0,
    api: (method, path, body, headers) => request(socket, method, path, body, headers),
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await waitExit();
      }
    },
    async kill() {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await waitExit();
      }
    },
    start,
    async cleanup() {
      try {
        if (child && child.exitCode === null && child.signalCode === null) {
          const list = await request(socket, 'GET', '/containers/json?all=1').then((r) => r.json<Array<{ Id: string }>>(), () => []);
          await Promise.all(list.map((c) => request(socket, 'DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined)));
        }
      } finally {
        await d.stop();
        await removeNetworks(dataRoot, execRoot, bridge, bridgeSubnet.prefix);
        // The seccomp listener first, by its own stop: killed, its standby would take over.
        await stopListenerProcess({ stateDir: join(execRoot, 'seccomp') }).catch(() => undefined);
        // conmon and container processes this daemon started carry our temp root in argv.
        for (const pid of pidsMentioning(root)) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
        const runcRoot = join(execRoot, 'runc');
        if (existsSync(runcRoot)) {
          for (const id of readdirSync(runcRoot)) {
            try {
              execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
            } catch {
              // already gone
            }
          }
        }
        for (const m of mountsUnder(root)) {
          try {
            execFileSync('umount', ['-l', m], { stdio: 'ignore' });
          } catch {
            // not mounted any more
          }
        }
        for (const dir of cgroupDirsOf(cgroupParent)) removeCgroupTree(dir);
        rmSync(root, { recursive: true, force: true });
      }
    },
    async moat(args, o = {}) {
      return await new Promise((resolve) => {
        const p = spawn(process.execPath, [join(REPO, 'bin/moat'), '-H', `unix://${socket}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 60_000);
        p.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
        p.stdin.end(o.input ?? '');
      });
    },
  };
  try {
    await start();
  } catch (err) {
    await d.cleanup();
    throw err;
  }
  return d;
}
