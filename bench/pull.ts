// `node dist/bench/pull.js [runs]`: pull of a 3-layer, ~50 MB image from a local
// docker-registry, moatd against Debian's dockerd (overlay2), side by side in one run, driven
// by the same docker CLI. Measures wall time of `docker pull` and the daemon's peak RSS rise
// over its RSS before the pull (sampled every 10 ms from /proc). Not a test.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startRegistry } from '../test/helpers/registry.js';
import { buildImage, pushBuilt } from '../test/helpers/oci.js';
import { REPO } from '../test/helpers/daemon.js';
import { ping } from './lib/host.js';

const DOCKER = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p)) ?? 'docker';

interface Daemon {
  name: string;
  socket: string;
  pids(): number[];
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function ready(socket: string, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    if (existsSync(socket) && (await ping(socket))) return;
    await sleep(100);
  }
  throw new Error(`daemon did not start:\n${readFileSync(log, 'utf8').slice(-2000)}`);
}

function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function childrenMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      if (readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(needle)) out.push(Number(n));
    } catch {
      // gone
    }
  }
  return out;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
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
  const child = spawn('/usr/sbin/dockerd', ['--storage-driver', 'overlay2', '--iptables=false', '--ip6tables=false', '--bridge=none', '--data-root', data, '--exec-root', exec, '--pidfile', join(root, 'dockerd.pid'), '--host', `unix://${socket}`, '--cgroup-parent', `/${cgroupParent}`, '--config-file', join(root, 'daemon.json')], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  await ready(socket, child, log);
  return {
    name: 'dockerd',
    socket,
    pids: () => [child.pid!],
    stop: async () => {
      await stopChild(child);
      for (const pid of childrenMentioning(root)) if (pid !== process.pid) process.kill(pid, 'SIGKILL');
      for (const ctl of readdirSync('/sys/fs/cgroup')) {
        const dir = join('/sys/fs/cgroup', ctl, cgroupParent);
        try {
          if (existsSync(dir)) rmdirSync(dir);
        } catch {
          // still in use: left for the operator to see
        }
      }
    },
  };
}

async function startMoatd(root: string): Promise<Daemon> {
  const data = join(root, 'moat-data');
  const exec = join(root, 'moat-exec');
  const socket = join(exec, 'moat.sock');
  const log = join(root, 'moatd.log');
  const fd = openSync(log, 'a');
  const child = spawn(join(REPO, 'bin/moatd'), ['--data-root', data, '--exec-root', exec, '--cgroup-parent', `moat-bench-${randomBytes(3).toString('hex')}`, '--log-level', 'warn'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  await ready(socket, child, log);
  return { name: 'moatd', socket, pids: () => [child.pid!], stop: () => stopChild(child) };
}

function docker(d: Daemon, args: string[], cfg: string): Promise<{ code: number; ms: number; out: string }> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    execFile(DOCKER, args, { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: cfg }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, ms, out: `${stdout}${stderr}` });
    });
  });
}

/** One pull: wall time, and the daemon's peak RSS above its RSS just before. */
async function measurePull(d: Daemon, ref: string, cfg: string): Promise<{ ms: number; riseMb: number }> {
  const rm = await docker(d, ['rmi', '-f', ref], cfg);
  void rm;
  await sleep(300);
  const base = d.pids().reduce((n, p) => n + rssKb(p), 0);
  let peak = base;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, d.pids().reduce((n, p) => n + rssKb(p), 0));
      await sleep(10);
    }
  })();
  const r = await docker(d, ['pull', ref], cfg);
  sampling = false;
  await sampler;
  if (r.code !== 0) throw new Error(`${d.name}: docker pull failed: ${r.out}`);
  return { ms: r.ms, riseMb: (peak - base) / 1024 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const root = mkdtempSync('/tmp/mt-bench-pull-');
  const daemons: Daemon[] = [];
  const reg = await startRegistry();
  try {
    // ~50 MB: three layers of incompressible data (gzip cannot shrink them). Random bytes as
    // latin1 text are UTF-8 encoded into the tar (x1.5): 7 + 10 + 16 MiB become ~52 MB.
    const mb = (n: number): string => randomBytes(n * 1024 * 1024).toString('latin1');
    process.stderr.write('bench: building and pushing the image\n');
    const img = await buildImage({ layers: [{ 'a.bin': mb(7) }, { 'b.bin': mb(10) }, { 'c.bin': mb(16) }] });
    const total = img.layers.reduce((n, l) => n + l.gz.length, 0);
    await pushBuilt(reg.host, 'bench/big', 'v1', img);
    const ref = `${reg.host}/bench/big:v1`;
    const dockerd = await startDockerd(root);
    daemons.push(dockerd);
    const moatd = await startMoatd(root);
    daemons.push(moatd);
    const cfg = join(root, 'cli');
    mkdirSync(cfg, { recursive: true });
    const res: Record<string, Array<{ ms: number; riseMb: number }>> = { dockerd: [], moatd: [] };
    for (let i = 0; i < runs; i++) {
      // interleaved, alternating who goes first
      const order = i % 2 === 0 ? [dockerd, moatd] : [moatd, dockerd];
      for (const d of order) res[d.name]!.push(await measurePull(d, ref, cfg));
    }
    const row = (name: string): string => {
      const r = res[name]!;
      return `| ${name} | ${median(r.map((x) => x.ms)).toFixed(0)} | ${r.map((x) => x.ms.toFixed(0)).join(', ')} | ${median(r.map((x) => x.riseMb)).toFixed(1)} | ${Math.max(...r.map((x) => x.riseMb)).toFixed(1)} |`;
    };
    const ratio = median(res['moatd']!.map((x) => x.ms)) / median(res['dockerd']!.map((x) => x.ms));
    process.stdout.write(
      [
        `pull of ${ref}: 3 layers, ${(total / 1e6).toFixed(1)} MB compressed, ${runs} runs each, interleaved`,
        '',
        '| daemon | median ms | runs ms | median RSS rise MB | max RSS rise MB |',
        '|---|---|---|---|---|',
        row('dockerd'),
        row('moatd'),
        '',
        `moatd/dockerd time: ${ratio.toFixed(2)} (goal <= 0.8); moatd RSS rise goal < 30 MB`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const d of daemons.reverse()) await d.stop().catch((err: unknown) => process.stderr.write(`bench: stop ${d.name}: ${String(err)}\n`));
    await reg.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
