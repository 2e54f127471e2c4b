// NotifyExplainer without containers or root: the listener is kept running and tables written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, openSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../base/index.js';
import { NotifyExplainer } from './explainer.js';
import { stopListenerProcess } from './process.js';
import { loadRuleTableSync, rulesPath } from './files.js';

const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

test('NotifyExplainer starts the listener on first use, writes tables, and restarts a dead listener', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  const pids: number[] = [];
  let x: NotifyExplainer | undefined;
  t.after(async () => {
    await x?.close(); // first: its timer would start a new listener
    await stopListenerProcess({ stateDir: join(execRoot, 'seccomp') });
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(execRoot, { recursive: true, force: true });
  });
  x = await NotifyExplainer.start({ execRoot, listenerBin: join(REPO, 'bin/moat-seccomp-listener'), arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 50 });
  assert.equal(x.available(), true);
  assert.equal(x.listenerPath, join(execRoot, 'seccomp.sock'));
  assert.equal(x.pid, undefined, 'an idle daemon runs no listener');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(x.pid, undefined, 'nor does the timer start one before a container needs it');

  await x.prepare('c1', [{ index: 3, names: ['keyctl'], errno: 1 }]);
  assert.equal(loadRuleTableSync(x.stateDir, 'c1')?.mode, 'enforce');
  const first = x.pid!;
  assert.ok(first > 0, 'the first container started the listener');
  pids.push(first);

  process.kill(first, 'SIGKILL');
  const end = Date.now() + 10_000;
  while ((x.pid === first || !x.available()) && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  // x.pid changes under the timer: TS cannot see that.
  assert.notEqual(x.pid, first, 'a new listener');
  pids.push(x.pid!);
  assert.equal(x.available(), true);

  await x.remove('c1');
  assert.ok(!existsSync(rulesPath(x.stateDir, 'c1')));
});

test('NotifyExplainer with an impossible socket path stays unavailable instead of throwing', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-') + '/' + 'x'.repeat(120);
  const x = await NotifyExplainer.start({ execRoot, listenerBin: join(REPO, 'bin/moat-seccomp-listener'), arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 60_000 });
  t.after(async () => {
    await x.close();
    rmSync(dirname(execRoot), { recursive: true, force: true });
  });
  assert.equal(x.available(), false);
  await assert.rejects(x.prepare('c1', []), /seccomp denial listener is not running/);
});

/** Listener processes as a fake: one pid at a time; the idle-exit answer and the exit are the test's to give. */
function fakeProcesses() {
  const f = {
    pid: undefined as number | undefined,
    nextPid: 100,
    starts: 0,
    requests: 0,
    /** The grace of each idle-exit request, in order. */
    graces: [] as number[],
    answer: 'exiting' as 'exiting' | 'busy',
    /** While set, an idle-exit request waits for it. */
    hold: undefined as Promise<void> | undefined,
    processes: {
      start: async () => {
        assert.equal(f.pid, undefined, 'a new listener is started only once the old one is gone');
        f.starts += 1;
        f.pid = f.nextPid++;
        return { pid: f.pid, started: true };
      },
      find: async () => (f.pid !== undefined ? { pid: f.pid } : undefined),
      findStandby: () => undefined,
      holdDaemonLock: async () => openSync('/dev/null', 'r'),
      running: (pid: number) => pid === f.pid,
      requestIdleExit: async (o: { graceMs: number }) => {
        f.requests += 1;
        f.graces.push(o.graceMs);
        await f.hold;
        return f.answer;
      },
      waitForExit: async () => {
        if (f.answer === 'exiting') f.pid = undefined;
        return true;
      },
    },
  };
  return f;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('NotifyExplainer asks an idle pair to exit only once no create is pinned, and starts it again on the next create', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  const f = fakeProcesses();
  const x = await NotifyExplainer.start({ execRoot, listenerBin: process.execPath, arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 10, idleGraceMs: 0, processes: f.processes });
  t.after(async () => {
    await x.close();
    rmSync(execRoot, { recursive: true, force: true });
  });
  await x.prepare('c1', [{ index: 3, names: ['keyctl'], errno: 1 }]);
  assert.equal(x.pid, 100);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(f.requests, 0, 'a create between prepare and its start/die event pins the pair');
  x.settled('c1');
  await until(() => x.pid === undefined);
  assert.equal(f.requests, 1);
  assert.equal(x.available(), true, 'a stopped pair is still available: the next create starts it');
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(f.requests, 1, 'no request while no pair runs');
  await x.prepare('c2', []);
  assert.equal(x.pid, 101);
  assert.equal(f.starts, 2);
});

test('NotifyExplainer: a create racing an idle-exit request waits for the old pair to go, then starts a new one', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  const f = fakeProcesses();
  let release!: () => void;
  f.hold = new Promise<void>((r) => (release = r));
  const x = await NotifyExplainer.start({ execRoot, listenerBin: process.execPath, arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 10, idleGraceMs: 0, processes: f.processes });
  t.after(async () => {
    release();
    await x.close();
    rmSync(execRoot, { recursive: true, force: true });
  });
  await x.prepare('c1', []);
  x.settled('c1');
  await until(() => f.requests === 1); // the request is out, its answer held
  let prepared = false;
  const p = x.prepare('c2', [{ index: 0, names: ['keyctl'], errno: 1 }]).then(() => (prepared = true));
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(prepared, false, 'the create waits while the request is out');
  assert.equal(f.starts, 1, 'and starts nothing yet');
  release(); // the listener agrees and goes
  await p;
  assert.equal(f.starts, 2, 'the create started a new pair after the old one went');
  assert.equal(x.pid, 101);
  assert.equal(loadRuleTableSync(x.stateDir, 'c2')?.mode, 'enforce');
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(f.requests, 1, 'the new pair is pinned by c2');
});

test('NotifyExplainer keeps a pair that declines (a container holds its fds)', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  const f = fakeProcesses();
  f.answer = 'busy';
  f.pid = 42; // left running by an earlier moatd
  const x = await NotifyExplainer.start({ execRoot, listenerBin: process.execPath, arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 10, idleGraceMs: 0, processes: f.processes });
  t.after(async () => {
    await x.close();
    rmSync(execRoot, { recursive: true, force: true });
  });
  assert.equal(x.pid, 42, 'found at start');
  await until(() => f.requests >= 3);
  assert.equal(x.pid, 42, 'still there after declined requests');
  assert.equal(f.starts, 0);
  f.answer = 'exiting'; // its last container went
  await until(() => x.pid === undefined);
  assert.equal(f.pid, undefined);
});

test('NotifyExplainer with idleGraceMs Infinity never asks', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  const f = fakeProcesses();
  const x = await NotifyExplainer.start({ execRoot, listenerBin: process.execPath, arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 10, idleGraceMs: Infinity, processes: f.processes });
  t.after(async () => {
    await x.close();
    rmSync(execRoot, { recursive: true, force: true });
  });
  await x.prepare('c1', []);
  x.settled('c1');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(f.requests, 0);
  assert.equal(x.pid, 100);
});

test('NotifyExplainer at shutdown asks a pair no container holds to exit at once; a pinned create or a busy pair keeps it', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  t.after(() => rmSync(execRoot, { recursive: true, force: true }));
  const opts = { execRoot, listenerBin: process.execPath, arch: 'SCMP_ARCH_X86_64' as const, log: silentLogger(), checkIntervalMs: 60_000, idleGraceMs: 5000 };
  // Idle: the container that used it just went (inside the 5 s grace the timer would wait).
  const idle = fakeProcesses();
  const a = await NotifyExplainer.start({ ...opts, processes: idle.processes });
  await a.prepare('c1', []);
  a.settled('c1');
  await a.close();
  assert.deepEqual(idle.graces, [0], 'asked once, with no grace');
  assert.equal(idle.pid, undefined, 'the pair went');
  // A create still pinned: runc may be about to connect, so nothing is asked.
  const pinned = fakeProcesses();
  const b = await NotifyExplainer.start({ ...opts, processes: pinned.processes });
  await b.prepare('c2', []);
  await b.close();
  assert.equal(pinned.requests, 0);
  assert.equal(pinned.pid, 100, 'kept for the create');
  // Containers hold its fds: the pair declines and keeps serving them.
  const busy = fakeProcesses();
  busy.answer = 'busy';
  busy.pid = 7;
  const c = await NotifyExplainer.start({ ...opts, processes: busy.processes });
  await c.close();
  assert.deepEqual(busy.graces, [0]);
  assert.equal(busy.pid, 7);
  // --seccomp-listener-idle never: never asked, at shutdown either.
  const never = fakeProcesses();
  never.pid = 9;
  const d = await NotifyExplainer.start({ ...opts, idleGraceMs: Infinity, processes: never.processes });
  await d.close();
  assert.equal(never.requests, 0);
});

test('NotifyExplainer: a create checks a running listener it knows by its pid alone, and starts another when that pid is gone', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  const f = fakeProcesses();
  let finds = 0;
  const find = f.processes.find;
  f.processes.find = async () => {
    finds += 1;
    return await find();
  };
  const x = await NotifyExplainer.start({ execRoot, listenerBin: process.execPath, arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 60_000, idleGraceMs: Infinity, processes: f.processes });
  t.after(async () => {
    await x.close();
    rmSync(execRoot, { recursive: true, force: true });
  });
  await x.prepare('c1', [{ index: 3, names: ['keyctl'], errno: 1 }]);
  assert.equal(f.starts, 1);
  const findsAfterFirst = finds;
  await x.prepare('c2', [{ index: 3, names: ['keyctl'], errno: 1 }]);
  assert.equal(f.starts, 1, 'no start attempt for a listener that runs');
  assert.equal(finds, findsAfterFirst, 'and no connection to find it');
  assert.ok(existsSync(join(execRoot, 'seccomp', 'c2.rules.json')), 'the rule table is written all the same');
  f.pid = undefined; // the listener and its standby died
  await x.prepare('c3', []);
  assert.equal(f.starts, 2, 'a listener whose pid is gone is started again');
  assert.equal(x.pid, 101);
});

test('NotifyExplainer: a listener started early and not serving yet is not taken for gone by the periodic check', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  const f = fakeProcesses();
  let serving = false;
  const find = f.processes.find;
  // Its pid file and socket come later: find() sees nothing until then; the process runs.
  f.processes.find = async () => (serving ? await find() : undefined);
  const warnings: string[] = [];
  const log = silentLogger();
  log.warn = ((...a: unknown[]) => void warnings.push(String(a[a.length - 1]))) as typeof log.warn;
  const x = await NotifyExplainer.start({ execRoot, listenerBin: process.execPath, arch: 'SCMP_ARCH_X86_64', log, checkIntervalMs: 10, idleGraceMs: Infinity, processes: f.processes });
  t.after(async () => {
    await x.close();
    rmSync(execRoot, { recursive: true, force: true });
  });
  await x.prepare('c1', [{ index: 3, names: ['keyctl'], errno: 1 }]);
  assert.equal(f.starts, 1);
  await new Promise((r) => setTimeout(r, 100)); // ten periodic checks
  assert.equal(f.starts, 1, 'no second start');
  assert.deepEqual(warnings, [], 'no "listener gone" warning');
  assert.equal(x.pid, 100);
  serving = true;
  x.settled('c1');
  f.pid = undefined; // now it dies
  await until(() => warnings.length > 0);
  assert.match(warnings[0]!, /gone/);
});
