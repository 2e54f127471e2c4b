// `make bench`: moatd against Debian's dockerd, side by side, driven by the same docker CLI.
// Both daemons run on temporary sockets and roots, import the same busybox rootfs tarball,
// and everything they start is removed at the end. Not a test: it prints a table of ratios
// and the targets (run latency <= 0.4x, parallel throughput >= 2x, idle RSS <= 0.5x).
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, symlinkSync, copyFileSync, openSync, closeSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

const RUNS = Number(process.env['BENCH_RUNS'] ?? 20);
const PARALLEL = Number(process.env['BENCH_PARALLEL'] ?? 20);
const PS_CONTAINERS = Number(process.env['BENCH_PS_CONTAINERS'] ?? 50);
const PARALLEL_ROUNDS = Number(process.env['BENCH_PARALLEL_ROUNDS'] ?? 3);
const IMAGE = 'busybox-bench:latest';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function findDocker(): string {
  for (const p of ['/usr/local/bin/docker', '/usr/bin/docker']) {
    if (!existsSync(p)) continue;
    const v = execFileSync(p, ['--version'], { encoding: 'utf8' });
    if (/version (2[5-9]|[3-9]\d)\./.test(v)) return p;
  }
  throw new Error('bench: needs the docker CLI >= 25 (/usr/local/bin/docker)');
}

interface Daemon {
  name: string;
  socket: string;
  /** Pids whose RSS counts as the idle daemon. */
  daemonPids(): number[];
  /** Pids of the per-container helpers (shim or conmon). */
  helperPids(): number[];
  /** Helpers shared by all containers, counted into the per-container figure. */
  sharedHelperPids(): number[];
  stop(): Promise<void>;
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function waitReady(socket: string, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited during start:\n${readFileSync(log, 'utf8').slice(-3000)}`);
    if (existsSync(socket) && (await ping(socket))) return;
    await sleep(100);
  }
  throw new Error(`daemon did not answer within 60 s:\n${readFileSync(log, 'utf8').slice(-3000)}`);
}

function procs(): Array<{ pid: number; ppid: number; cmdline: string; comm: string }> {
  const out: Array<{ pid: number; ppid: number; cmdline: string; comm: string }> = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const cmdline = readFileSync(`/proc/${n}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      out.push({ pid: Number(n), ppid, cmdline, comm });
    } catch {
      // gone
    }
  }
  return out;
}

function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

async function startDockerd(root: string): Promise<Daemon> {
  const data = join(root, 'docker-data');
  const exec = join(root, 'docker-exec');
  const socket = join(root, 'docker.sock');
  const log = join(root, 'dockerd.log');
  mkdirSync(data, { recursive: true });
  mkdirSync(exec, { recursive: true });
  writeFileSync(join(root, 'daemon.json'), '{}\n');
  const cgroupParent = `moat-bench-dockerd-${randomBytes(3).toString('hex')}`;
  const fd = openSync(log, 'a');
  const child = spawn(
    '/usr/sbin/dockerd',
    ['--storage-driver', 'vfs', '--iptables=false', '--ip6tables=false', '--bridge=none', '--data-root', data, '--exec-root', exec, '--pidfile', join(root, 'dockerd.pid'), '--host', `unix://${socket}`, '--cgroup-parent', `/${cgroupParent}`, '--config-file', join(root, 'daemon.json')],
    { stdio: ['ignore', fd, fd], env: { ...process.env, DOCKER_CONFIG: join(root, 'cli') } },
  );
  closeSync(fd);
  await waitReady(socket, child, log);
  const under = (p: { cmdline: string }): boolean => p.cmdline.includes(root);
  return {
    name: 'dockerd',
    socket,
    daemonPids: () => {
      const all = procs();
      // dockerd plus the containerd it started (its child, with our exec root in argv).
      return [child.pid!, ...all.filter((p) => p.comm === 'containerd' && (p.ppid === child.pid || under(p))).map((p) => p.pid)];
    },
    helperPids: () => procs().filter((p) => p.comm.startsWith('containerd-shim') && under(p)).map((p) => p.pid),
    sharedHelperPids: () => [],
    stop: async () => {
      await stopChild(child, 20_000);
      for (const p of procs()) if (under(p) && pidAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
      for (const dir of cgroupDirsNamed(cgroupParent)) removeCgroupTree(dir);
    },
  };
}

async function startMoatd(root: string): Promise<Daemon> {
  const data = join(root, 'moat-data');
  const exec = join(root, 'moat-exec');
  const socket = join(exec, 'moat.sock');
  const log = join(root, 'moatd.log');
  const cgroupParent = `moat-bench-${randomBytes(3).toString('hex')}`;
  const fd = openSync(log, 'a');
  const child = spawn(join(REPO, 'bin/moatd'), ['--data-root', data, '--exec-root', exec, '--cgroup-parent', cgroupParent, '--log-level', 'warn'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  await waitReady(socket, child, log);
  const under = (p: { cmdline: string }): boolean => p.cmdline.includes(root);
  const listenerPids = (): number[] => procs().filter((p) => p.cmdline.includes('moat-seccomp-listener') && under(p)).map((p) => p.pid);
  return {
    name: 'moatd',
    socket,
    // moatd, plus its seccomp denial listener when one runs (it starts with the first container).
    daemonPids: () => [child.pid!, ...listenerPids()],
    helperPids: () => procs().filter((p) => p.comm === 'conmon' && under(p)).map((p) => p.pid),
    sharedHelperPids: () => listenerPids(),
    stop: async () => {
      await stopChild(child, 20_000);
      for (const p of procs()) if (under(p) && pidAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
      const runcRoot = join(exec, 'runc');
      if (existsSync(runcRoot)) {
        for (const id of readdirSync(runcRoot)) {
          try {
            execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
          } catch {
            // gone
          }
        }
      }
      for (const dir of cgroupDirsNamed(cgroupParent)) removeCgroupTree(dir);
    },
  };
}

function cgroupDirsNamed(name: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === undefined || path === undefined) continue;
    const base = ctrls === '' ? '/sys/fs/cgroup/unified' : `/sys/fs/cgroup/${ctrls.startsWith('name=') ? ctrls.slice(5) : ctrls}`;
    for (const dir of [join(base, path, name), join(base, name)]) if (existsSync(dir)) out.push(dir);
  }
  return [...new Set(out)];
}

function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // busy: left for the operator to see
  }
}

function unmountUnder(prefix: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // not mounted any more
    }
  }
}

/** A busybox rootfs tarball: /bin/busybox plus the applet links the bench uses. */
function makeRootfsTar(root: string): string {
  const dir = join(root, 'rootfs');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  for (const a of ['sh', 'true', 'sleep', 'echo', 'cat', 'ls']) symlinkSync('busybox', join(dir, 'bin', a));
  const tarPath = join(root, 'rootfs.tar');
  execFileSync('tar', ['-C', dir, '-cf', tarPath, '.']);
  return tarPath;
}

interface CliResult {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
}

function makeCli(docker: string, root: string) {
  return (socket: string, args: string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      execFile(docker, args, { env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(root, 'cli') }, maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, ms, stdout, stderr });
      });
    });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Result {
  runMedianMs: number;
  parallelWallMs: number;
  parallelPerSec: number;
  psMedianMs: number;
  idleRssKb: number;
  perContainerRssKb: number;
}

type Cli = ReturnType<typeof makeCli>;

function mustOf(d: Daemon, cli: Cli): (args: string[]) => Promise<CliResult> {
  return async (args) => {
    const r = await cli(d.socket, args);
    if (r.code !== 0) throw new Error(`${d.name}: docker ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r;
  };
}

/**
 * Both daemons measured in one run, interleaved (A, B, B, A, …) so that neither pays for
 * what the other left behind or for the machine warming up; one daemon acts at a time, so
 * they never compete for the 2 cores.
 */
async function measureBoth(pair: [Daemon, Daemon], cli: Cli, tarPath: string): Promise<[Result, Result]> {
  const must = pair.map((d) => mustOf(d, cli));
  const order = (i: number): number[] => (i % 2 === 0 ? [0, 1] : [1, 0]);
  for (const m of must) await m(['import', tarPath, IMAGE]);
  // Idle: after start and import, before any container; let the daemons settle.
  await sleep(2000);
  const idle = pair.map((d) => d.daemonPids().reduce((a, p) => a + rssKb(p), 0));
  for (let i = 0; i < 2; i++) for (const m of must) await m(['run', '--rm', IMAGE, 'true']);
  const lat: number[][] = [[], []];
  for (let i = 0; i < RUNS; i++) for (const k of order(i)) lat[k]!.push((await must[k]!(['run', '--rm', IMAGE, 'true'])).ms);
  for (const [k, d] of pair.entries()) process.stderr.write(`  ${d.name}: run --rm true median ${median(lat[k]!).toFixed(0)} ms\n`);
  const wall: number[][] = [[], []];
  for (let round = 0; round < PARALLEL_ROUNDS; round++) {
    for (const k of order(round)) {
      const t0 = Date.now();
      await Promise.all(Array.from({ length: PARALLEL }, () => must[k]!(['run', '--rm', IMAGE, 'true'])));
      wall[k]!.push(Date.now() - t0);
    }
  }
  for (const [k, d] of pair.entries()) process.stderr.write(`  ${d.name}: ${PARALLEL} parallel run --rm, median of ${PARALLEL_ROUNDS} rounds: ${median(wall[k]!)} ms\n`);
  const out: Result[] = [];
  for (const [k, d] of pair.entries()) {
    const m = must[k]!;
    for (let i = 0; i < PS_CONTAINERS; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, PS_CONTAINERS - i) }, () => m(['run', '-d', IMAGE, 'sleep', '1000'])));
    }
    await sleep(1000);
    const helpers = d.helperPids();
    // Shared helpers (moat's seccomp listener) are spread over the running containers.
    const shared = d.sharedHelperPids().reduce((a, p) => a + rssKb(p), 0);
    const perContainerRssKb = helpers.length > 0 ? (helpers.reduce((a, p) => a + rssKb(p), 0) + shared) / PS_CONTAINERS : 0;
    const ps: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await m(['ps', '-q']);
      const n = r.stdout.trim().split('\n').filter((x) => x !== '').length;
      if (n !== PS_CONTAINERS) throw new Error(`${d.name}: ps listed ${n} containers, want ${PS_CONTAINERS}`);
      ps.push(r.ms);
    }
    process.stderr.write(`  ${d.name}: ps median ${median(ps).toFixed(0)} ms with ${PS_CONTAINERS} containers, ${helpers.length} helper processes\n`);
    const ids = (await m(['ps', '-aq'])).stdout.trim().split('\n').filter((x) => x !== '');
    for (let i = 0; i < ids.length; i += 10) await m(['rm', '-f', ...ids.slice(i, i + 10)]);
    const w = median(wall[k]!);
    out.push({ runMedianMs: median(lat[k]!), parallelWallMs: w, parallelPerSec: (PARALLEL * 1000) / w, psMedianMs: median(ps), idleRssKb: idle[k]!, perContainerRssKb });
  }
  return [out[0]!, out[1]!];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench: must run as root');
  if (!existsSync('/usr/sbin/dockerd')) throw new Error('bench: needs /usr/sbin/dockerd (Debian docker.io)');
  const docker = findDocker();
  const root = mkdtempSync('/tmp/moat-bench-');
  mkdirSync(join(root, 'cli'));
  const cli = makeCli(docker, root);
  const daemons: Daemon[] = [];
  let failed = false;
  try {
    const tarPath = makeRootfsTar(root);
    process.stderr.write(`bench: starting dockerd and moatd under ${root}\n`);
    const dockerd = await startDockerd(root);
    daemons.push(dockerd);
    const moatd = await startMoatd(root);
    daemons.push(moatd);
    const [rd, rm] = await measureBoth([dockerd, moatd], cli, tarPath);
    const rows: Array<[string, string, string, string, string]> = [
      ['run --rm true, median of ' + RUNS, `${rd.runMedianMs.toFixed(0)} ms`, `${rm.runMedianMs.toFixed(0)} ms`, (rm.runMedianMs / rd.runMedianMs).toFixed(2) + 'x', '<= 0.40x'],
      [`${PARALLEL} parallel run --rm (per s)`, rd.parallelPerSec.toFixed(1), rm.parallelPerSec.toFixed(1), (rm.parallelPerSec / rd.parallelPerSec).toFixed(2) + 'x', '>= 2.00x'],
      [`ps with ${PS_CONTAINERS} containers, median`, `${rd.psMedianMs.toFixed(0)} ms`, `${rm.psMedianMs.toFixed(0)} ms`, (rm.psMedianMs / rd.psMedianMs).toFixed(2) + 'x', ''],
      ['idle daemon RSS', `${(rd.idleRssKb / 1024).toFixed(1)} MiB`, `${(rm.idleRssKb / 1024).toFixed(1)} MiB`, (rm.idleRssKb / rd.idleRssKb).toFixed(2) + 'x', '<= 0.50x'],
      ['RSS per running container', `${(rd.perContainerRssKb / 1024).toFixed(2)} MiB`, `${(rm.perContainerRssKb / 1024).toFixed(2)} MiB`, rd.perContainerRssKb > 0 ? (rm.perContainerRssKb / rd.perContainerRssKb).toFixed(2) + 'x' : 'n/a', ''],
    ];
    const head: [string, string, string, string, string] = ['measure', 'dockerd (+containerd, shim)', 'moatd (conmon)', 'moat/docker', 'target'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) console.log(line(r));
  } catch (err) {
    failed = true;
    console.error(String((err as Error).stack ?? err));
  } finally {
    for (const d of daemons.reverse()) await d.stop().catch((err: unknown) => console.error(`bench: stopping ${d.name}: ${String(err)}`));
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

await main();
