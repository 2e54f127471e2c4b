// `node dist/bench/build.js`: a 6-step build, cold (--no-cache) and warm (every step cached),
// on moatd and on Debian's dockerd (classic builder, overlay2 as moat's overlayfs) side by side, driven by the same
// docker CLI with DOCKER_BUILDKIT=0. Not a test: prints medians and ratios against the goals
// (cold <= 1x dockerd, warm <= 0.5x dockerd). Everything it starts is stopped at the end.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../test/helpers/daemon.js';
import { ping } from './lib/host.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUp(socket: string, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`daemon exited: ${readFileSync(log, 'utf8').slice(-2000)}`);
    if (existsSync(socket) && (await ping(socket))) return;
    await sleep(100);
  }
  throw new Error('daemon did not start');
}

function cli(socket: string, cfg: string, args: string[]): { ms: number; out: string } {
  const t0 = process.hrtime.bigint();
  const out = execFileSync('docker', ['-H', `unix://${socket}`, ...args], { env: { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: cfg }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const root = mkdtempSync('/tmp/moat-bench-build-');
  const cfg = join(root, 'cli');
  mkdirSync(cfg);
  const children: ChildProcess[] = [];
  try {
    const mlog = join(root, 'moatd.log');
    const mfd = openSync(mlog, 'a');
    const msock = join(root, 'm', 'moat.sock');
    const moatd = spawn(process.execPath, [join(REPO, 'bin/moatd'), '--data-root', join(root, 'md'), '--exec-root', join(root, 'm'), '--pidfile', join(root, 'm.pid'), '-H', `unix://${msock}`, '--cgroup-parent', `moat-bench-build`, '--block-registry', 'docker.io'], { stdio: ['ignore', mfd, mfd] });
    closeSync(mfd);
    children.push(moatd);
    const dlog = join(root, 'dockerd.log');
    const dfd = openSync(dlog, 'a');
    const dsock = join(root, 'docker.sock');
    writeFileSync(join(root, 'daemon.json'), '{}\n');
    const dockerd = spawn('/usr/sbin/dockerd', ['--storage-driver', 'overlay2', '--iptables=false', '--ip-masq=false', '--bridge=none', '--data-root', join(root, 'dd'), '--exec-root', join(root, 'de'), '--pidfile', join(root, 'd.pid'), '--host', `unix://${dsock}`, '--config-file', join(root, 'daemon.json')], { stdio: ['ignore', dfd, dfd] });
    closeSync(dfd);
    children.push(dockerd);
    await waitUp(msock, moatd, mlog);
    await waitUp(dsock, dockerd, dlog);
    // The same busybox image on both: moat's built-in one, saved and loaded into dockerd.
    execFileSync('docker', ['-H', `unix://${msock}`, 'save', '-o', join(root, 'bb.tar'), 'busybox:latest'], { env: { ...process.env, DOCKER_CONFIG: cfg } });
    execFileSync('docker', ['-H', `unix://${dsock}`, 'load', '-i', join(root, 'bb.tar')], { env: { ...process.env, DOCKER_CONFIG: cfg }, stdio: 'ignore' });
    const ctx = join(root, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'app.txt'), 'x'.repeat(100_000));
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nENV MODE=bench\nWORKDIR /app\nCOPY app.txt .\nRUN wc -c app.txt > size.txt\nRUN echo done >> size.txt\nCMD ["cat", "/app/size.txt"]\n');
    const daemons = [
      { name: 'dockerd', socket: dsock, cold: [] as number[], warm: [] as number[], cli: [] as number[] },
      { name: 'moatd', socket: msock, cold: [] as number[], warm: [] as number[], cli: [] as number[] },
    ];
    for (const d of daemons) cli(d.socket, cfg, ['build', '-q', '-t', 'bench', ctx]);
    for (let i = 0; i < RUNS; i++) {
      for (const d of daemons) {
        d.cold.push(cli(d.socket, cfg, ['build', '-q', '--no-cache', '-t', 'bench', ctx]).ms);
        d.warm.push(cli(d.socket, cfg, ['build', '-q', '-t', 'bench', ctx]).ms);
        // The CLI's own start and version handshake, which every warm build includes.
        d.cli.push(cli(d.socket, cfg, ['images', '-q', 'bench']).ms);
      }
    }
    const [dk, mt] = daemons as [(typeof daemons)[0], (typeof daemons)[0]];
    const rows = [
      ['6-step build, cold (--no-cache)', median(dk.cold), median(mt.cold), '<= 1.00x'],
      ['6-step build, warm (all cached)', median(dk.warm), median(mt.warm), '<= 0.50x'],
      ['docker images -q (CLI floor)', median(dk.cli), median(mt.cli), '-'],
    ] as const;
    console.log(`median of ${RUNS} interleaved runs, docker CLI with DOCKER_BUILDKIT=0`);
    console.log('measure                            dockerd     moatd   moat/docker  goal');
    for (const [what, a, b, goal] of rows) console.log(`${what.padEnd(34)} ${a.toFixed(0).padStart(6)} ms ${b.toFixed(0).padStart(6)} ms   ${(b / a).toFixed(2)}x      ${goal}`);
  } finally {
    for (const c of children) {
      if (c.exitCode === null) {
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([gone, sleep(20_000)]);
        if (c.exitCode === null) c.kill('SIGKILL');
      }
    }
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const m = line.split(' ')[4] ?? '';
      if (m.startsWith(root)) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    }
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
