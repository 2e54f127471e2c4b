// The listener program as bin/moat-seccomp-listener runs it: from its bundle (src/notify/program.ts,
// scripts/bundle-listener.mjs), a few files instead of the ~130 modules of dist/src and pino.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidPath, readPidFileSync, standbyPidPath } from './paths.js';

const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();
const BIN = join(REPO, 'bin/moat-seccomp-listener');

const waitFor = async (what: string, ok: () => boolean, ms = 10_000): Promise<void> => {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('the bundle holds the listener, its standby and pino, and leaves koffi to node_modules', () => {
  const { inputs } = JSON.parse(readFileSync(join(REPO, 'dist/bundle/meta.json'), 'utf8')) as { inputs: string[] };
  for (const f of ['dist/src/notify/main.js', 'dist/src/notify/listener.js', 'dist/src/notify/standby.js', 'node_modules/pino/pino.js']) {
    assert.ok(inputs.includes(f), `${f} is bundled`);
  }
  assert.ok(!inputs.some((f) => f.includes('node_modules/koffi/')), 'koffi (native code) is not bundled');
  // The standby loads the serving loop (and the syscall tables) only when it takes over.
  const entry = readFileSync(join(REPO, 'dist/bundle/moat-seccomp-listener.js'), 'utf8');
  assert.match(entry, /import\("\.\/listener-[A-Z0-9]+\.js"\)/);
});

test('a usage error from the bundled program: exit 2 and the message', () => {
  const r = spawnSync(process.execPath, [BIN, '--no-such-flag'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^moat-seccomp-listener: unknown argument "--no-such-flag"\n$/);
});

test('the listener and its standby load the bundle, not dist/src or pino from node_modules', async (t) => {
  const dir = mkdtempSync('/tmp/moat-lb-');
  const stateDir = join(dir, 'state');
  const trace = join(dir, 'trace');
  let strace: ReturnType<typeof spawn> | undefined;
  t.after(() => {
    // strace and the listener it runs share a process group; the standby has its own session.
    try {
      if (strace?.pid !== undefined && strace.exitCode === null) process.kill(-strace.pid, 'SIGKILL');
    } catch {
      // gone
    }
    for (const p of [pidPath(stateDir), standbyPidPath(stateDir)]) {
      const pid = readPidFileSync(p);
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  // strace -f follows the listener into the standby it spawns.
  // Its own process group, so that a failure anywhere below still ends it and the listener.
  const traced = spawn('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, BIN, '--socket', join(dir, 's.sock'), '--state-dir', stateDir], { stdio: 'ignore', detached: true });
  strace = traced;
  const exited = new Promise<number | null>((r) => traced.once('exit', (code) => r(code)));
  await waitFor('the standby', () => readPidFileSync(standbyPidPath(stateDir)) !== undefined);
  // The standby has run its start-up once it has written its pid file; the listener, once it spawned it.
  const listener = readPidFileSync(pidPath(stateDir));
  assert.ok(listener !== undefined);
  process.kill(listener, 'SIGTERM');
  assert.equal(await exited, 0);

  const opened = readFileSync(trace, 'utf8')
    .split('\n')
    .filter((l) => !l.includes('ENOENT'))
    .map((l) => /openat\([^"]*"([^"]+)"/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined && p.startsWith(REPO));
  const pids = new Set(readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes('dist/bundle/moat-seccomp-listener.js')).map((l) => l.split(' ')[0]));
  assert.equal(pids.size, 2, 'both processes load the bundle');
  assert.deepEqual(opened.filter((p) => p.includes('/dist/src/') || p.includes('/node_modules/pino')), []);
  assert.ok(opened.some((p) => p.includes('/node_modules/koffi/')), 'koffi is loaded from node_modules');
});
