// A temporary dockerd for interoperability tests, started the way bench/ starts it: its own
// data-root, exec-root, pidfile and socket under a temp dir, overlay2, no bridge, no
// iptables, a cgroup parent of its own below this process's cgroup. `stop()` ends it by pid,
// then what it started (containerd, shims: their command lines name the temp dir), and
// removes its mounts, cgroups and directory. Nothing touches the machine's own dockerd.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { cgroupDirsOf, pidAlive, pidsMentioning, removeCgroupTree, request } from './daemon.js';
import { dockerCli } from './requires.js';

export interface TempDockerd {
  readonly dir: string;
  readonly socket: string;
  /** Environment for the docker CLI against this dockerd. */
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms && pidAlive(pid); waited += 50) await sleep(50);
  return !pidAlive(pid);
}

/**
 * Start a dockerd; resolves with it, or with the reason it could not start here (the last
 * error lines of its log), having cleaned up what it made.
 */
export async function startTempDockerd(): Promise<TempDockerd | { failed: string }> {
  const dir = mkdtempSync('/tmp/mt-dockerd-');
  const socket = join(dir, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  const cgroupParent = `moat-test-dockerd-${randomBytes(3).toString('hex')}`;
  mkdirSync(join(dir, 'cli'));
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  const fd = openSync(log, 'a');
  const child: ChildProcess = spawn(
    '/usr/sbin/dockerd',
    ['--storage-driver', 'overlay2', '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--bridge=none', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'dockerd.pid'), '--host', `unix://${socket}`, '--cgroup-parent', cgroupParent, '--config-file', join(dir, 'daemon.json')],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') };
  delete env['DOCKER_CONTEXT'];
  delete env['DOCKER_API_VERSION'];
  const stop = async (): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitGone(child.pid, 20_000))) child.kill('SIGKILL');
    }
    // containerd and its shims name our directory in their arguments.
    for (const pid of pidsMentioning(`${dir}/`)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(dir)).sort((a, b) => b.length - a.length);
    for (const m of mounts) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    for (const cg of cgroupDirsOf(cgroupParent)) removeCgroupTree(cg);
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (existsSync(socket) && (await request(socket, 'GET', '/_ping').then((r) => r.status === 200, () => false))) return { dir, socket, env, stop };
    await sleep(100);
  }
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  const reason = text.split('\n').filter((l) => /level=(error|fatal)/.test(l)).slice(-3).join(' | ') || text.slice(-500) || 'no log';
  await stop();
  return { failed: `dockerd did not start on this machine: ${reason}` };
}

/**
 * A temporary dockerd for one test, stopped after it, with `cli(args)` running the docker CLI
 * against it. Undefined (the test skipped) when none can start on this machine, unless
 * MOAT_TEST_STRICT=1 makes that a failure.
 */
export async function dockerdForTest(t: TestContext): Promise<(TempDockerd & { cli(args: string[]): string }) | undefined> {
  const dockerd = await startTempDockerd();
  if ('failed' in dockerd) {
    if (process.env['MOAT_TEST_STRICT'] === '1') throw new Error(dockerd.failed);
    t.skip(dockerd.failed);
    return undefined;
  }
  t.after(() => dockerd.stop());
  const bin = dockerCli()!;
  const cli = (args: string[]): string => execFileSync(bin, args, { env: dockerd.env, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { ...dockerd, cli };
}
