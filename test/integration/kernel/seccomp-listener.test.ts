// The seccomp listener under moatd, as an attacker and an operator would try it:
// - issue 11 finding 7: containers looping on a notify-denied syscall must not make the
//   shared listener a cost for everyone. Asserted on counters the listener controls (answers
//   and records per container stay within DEFAULT_LIMITS), on the listener's CPU time (a
//   counter too, with a wide margin: ~65 % of a core before the budgets, ~3 % after), and on
//   clone3 never reaching the listener. The latency comparison is bench/seccomp-listener.ts.
// - issue 12 finding 10: the listener killed (by the pid in the daemon's exec root) while a
//   container keeps calling a blocked syscall: the container sees the profile's errno
//   throughout, and a listener serves again within 2 s (~50-70 ms measured; the bound allows
//   for a loaded machine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, basename, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { buildProbe, parseProbeOutput, verdict } from '../../helpers/probe/index.js';
import { readDenials, findListenerProcess, findStandbyProcess, DEFAULT_LIMITS, type DenialLine, type DenialRecord } from '../../../src/notify/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** utime + stime of `pid` in clock ticks (1/100 s), 0 when gone. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

const isDenial = (r: DenialLine): r is DenialRecord => r.kind === 'denial';

/** The probe's `for N ns_per_call T max_ns M` line and its last result. */
function forResult(stdout: string, label: string): { count: number; maxMs: number; last: string } {
  const m = /^for (\d+) ns_per_call \d+ max_ns (\d+)$/m.exec(stdout);
  assert.ok(m, `no "for" line in ${JSON.stringify(stdout)}`);
  return { count: Number(m[1]), maxMs: Number(m[2]) / 1e6, last: verdict(parseProbeOutput(stdout).results.get(label)?.at(-1)) };
}

test('the seccomp listener under moatd', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const probePath = buildProbe();
  const d: TestDaemon = await startDaemon();
  t.after(() => d.cleanup());
  const vol = ['-v', `${dirname(probePath)}:/p:ro`];
  const probe = `/p/${basename(probePath)}`;
  const stateDir = join(d.execRoot, 'seccomp');
  const socket = join(d.execRoot, 'seccomp.sock');
  const idOf = async (name: string): Promise<string> => (await d.api('GET', `/containers/${name}/json`)).json<{ Id: string }>().Id;
  const logsOf = async (name: string): Promise<string> => (await d.moat(['logs', name])).stdout;

  // The first container starts the listener (and its standby).
  const first = await d.moat(['run', '--rm', ...vol, 'busybox', probe, 'keyctl']);
  assert.match(first.stdout, /keyctl errno 1 EPERM/);

  await t.test('issue 11.7: clone3 stays off the notify path: ENOSYS from the filter, nothing for the listener to see', async () => {
    const r = await d.moat(['run', '--name', 'c3', ...vol, 'busybox', probe, 'repeat', '2000', 'clone3', ',', 'keyctl']);
    const { results } = parseProbeOutput(r.stdout);
    assert.equal(verdict(results.get('clone3')?.[0]), 'ENOSYS');
    assert.equal(verdict(results.get('keyctl')?.[0]), 'EPERM');
    const ns = Number(/repeat 2000 ns_per_call (\d+)/.exec(r.stdout)?.[1]);
    t.diagnostic(`clone3 under the default profile: ${ns} ns per call (a notification costs ~20 000)`);
    const id = await idOf('c3');
    // keyctl's record proves records work for this container; 2000 clone3 calls left none
    // (had they been notified, the first 20 would be recorded).
    const recs = await waitFor('the keyctl record', async () => {
      const rs = (await readDenials(stateDir, id)).filter(isDenial);
      return rs.length > 0 ? rs : undefined;
    });
    await sleep(300);
    assert.deepEqual((await readDenials(stateDir, id)).filter(isDenial).map((x) => x.syscall), ['keyctl']);
    assert.equal(recs[0]?.suppressed, undefined);
    await d.api('DELETE', '/containers/c3?force=1');
  });

  await t.test('issue 11.7: two containers flooding a denied syscall get answers and records within their budgets; a third is answered and recorded at once', async () => {
    const FLOOD_MS = 6000;
    const flooders = ['fa', 'fb'];
    const t0 = Date.now();
    for (const name of flooders) {
      const r = await d.moat(['run', '-d', '--name', name, ...vol, 'busybox', probe, 'for', String(FLOOD_MS), 'keyctl']);
      assert.equal(r.code, 0, r.stderr);
    }
    await sleep(1500); // past their bursts: both throttled
    const listener = await waitFor('the listener', () => findListenerProcess({ socket, stateDir }));
    const standby = findStandbyProcess({ stateDir });
    const pids = [listener.pid, ...(standby ? [standby.pid] : [])];
    const ticks0 = pids.reduce((s, p) => s + cpuTicks(p), 0);
    const w0 = Date.now();

    // A third container's denials are not held behind the flooders' budgets.
    const c = await d.moat(['run', '--name', 'fc', ...vol, 'busybox', probe, 'keyctl', ',', 'mount', ',', 'bpf', ',', 'repeat', '200', 'keyctl']);
    const { results } = parseProbeOutput(c.stdout);
    assert.deepEqual(['keyctl', 'mount', 'bpf'].map((x) => verdict(results.get(x)?.[0])), ['EPERM', 'EPERM', 'EPERM']);
    const perCall = Number(/repeat 200 ns_per_call (\d+)/.exec(c.stdout)?.[1]);
    t.diagnostic(`third container, 200 denied keyctl calls during the flood: ${perCall} ns per call`);
    const fcId = await idOf('fc');
    const fcRecs = await waitFor('the third container\'s records', async () => {
      const rs = (await readDenials(stateDir, fcId)).filter(isDenial);
      return rs.some((x) => x.syscall === 'bpf') ? rs : undefined;
    });
    assert.deepEqual(fcRecs.slice(0, 3).map((x) => x.syscall), ['keyctl', 'mount', 'bpf'], 'its first denials are explained, in order');

    for (const name of flooders) await d.moat(['wait', name]);
    const seconds = (Date.now() - w0) / 1000;
    const cpu = (pids.reduce((s, p) => s + cpuTicks(p), 0) - ticks0) / seconds; // ticks/s = % of one core
    t.diagnostic(`listener CPU during the flood: ${cpu.toFixed(1)} % of one core over ${seconds.toFixed(1)} s (before the budgets: ~65 %)`);
    assert.ok(cpu < 25, `listener CPU ${cpu.toFixed(1)} % of one core`);

    const L = DEFAULT_LIMITS;
    const elapsed = (Date.now() - t0) / 1000;
    for (const name of flooders) {
      const { count, last } = forResult(await logsOf(name), 'keyctl');
      assert.equal(last, 'EPERM', `${name}: the answer never changed during the flood`);
      // The listener answered every call (the probe counts them) and no more than the budget.
      const bound = L.answerBurst + L.answerPerSecond * elapsed;
      t.diagnostic(`${name}: ${count} denials answered in ${FLOOD_MS} ms (budget ${Math.floor(bound)})`);
      assert.ok(count >= L.answerBurst, `${name}: the burst is served (${count})`);
      assert.ok(count <= bound, `${name}: ${count} answers, budget ${bound}`);
      // Records: per syscall 20 at once then 1/s; every denial written or counted.
      const id = await idOf(name);
      // Every denial written or counted: in a record, a later record's `suppressed`, or the
      // `dropped` line written when the container's filter ends.
      const account = (rs: DenialLine[]): number => rs.reduce((sum, x) => sum + (x.kind === 'dropped' ? x.count : 1 + (x.suppressed ?? 0)), 0);
      const lines = await waitFor(`${name}'s records to account for ${count} denials`, async () => {
        const rs = await readDenials(stateDir, id);
        return account(rs) === count ? rs : undefined;
      }).catch(async (err: unknown) => {
        const rs = await readDenials(stateDir, id);
        throw new Error(`${String(err)}: ${account(rs)} accounted in ${rs.length} lines, last ${JSON.stringify(rs.slice(-2))}`);
      });
      const denials = lines.filter(isDenial);
      assert.ok(denials.length <= L.syscallRecordBurst + L.syscallRecordPerSecond * elapsed + 1, `${name}: ${denials.length} records`);
    }
    for (const name of [...flooders, 'fc']) await d.api('DELETE', `/containers/${name}?force=1`);
  });

  await t.test('issue 12.10: the listener killed by its pid while a container calls a blocked syscall: the same errno throughout, answers again within 2 s, twice', async () => {
    const RUN_MS = 7000;
    const r = await d.moat(['run', '-d', '--name', 'kl', ...vol, 'busybox', probe, 'for', String(RUN_MS), 'keyctl']);
    assert.equal(r.code, 0, r.stderr);
    const started = Date.now();
    for (let round = 1; round <= 2; round++) {
      await sleep(1500);
      const pid = Number(readFileSync(join(stateDir, 'listener.pid'), 'utf8'));
      const standby = await waitFor('a standby', () => findStandbyProcess({ stateDir }));
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const back = await waitFor('a listener again', async () => {
        const f = await findListenerProcess({ socket, stateDir });
        return f !== undefined && f.pid !== pid ? f : undefined;
      });
      const ms = Date.now() - killedAt;
      t.diagnostic(`round ${round}: listener ${pid} killed, ${back.pid} holds the lock and the socket after ${ms} ms`);
      assert.equal(back.pid, standby.pid, 'the standby took over');
    }
    await d.moat(['wait', 'kl']);
    const { count, maxMs, last } = forResult(await logsOf('kl'), 'keyctl');
    assert.equal(last, 'EPERM', 'never ENOSYS: the loop stops at the first different answer');
    assert.ok(Date.now() - started >= RUN_MS, 'the loop ran its full time');
    t.diagnostic(`${count} keyctl calls answered EPERM across two listener kills; the longest wait for an answer: ${maxMs.toFixed(0)} ms`);
    // The longest a call waited covers both takeovers (~50-70 ms each here) but also any stall
    // of a loaded 2-core machine (up to ~260 ms seen at load 15 without a kill): 2 s is the bound.
    assert.ok(maxMs < 2000, `answers again within 2 s of a kill (longest wait ${maxMs.toFixed(0)} ms)`);
    // New containers are served by the new listener on the same socket.
    const after = await d.moat(['run', '--name', 'ka', ...vol, 'busybox', probe, 'keyctl']);
    assert.match(after.stdout, /keyctl errno 1 EPERM/);
    const kaId = await idOf('ka');
    await waitFor('a record from the new listener', async () => ((await readDenials(stateDir, kaId)).some(isDenial) ? true : undefined));
    for (const name of ['kl', 'ka']) await d.api('DELETE', `/containers/${name}?force=1`);
  });
});
