// Issue 5, "denials explained, behaviour unchanged": moat's profile converted to
// SCMP_ACT_NOTIFY (toNotifyProfile) and answered by moat-seccomp-listener must give the
// container exactly the errnos the plain ERRNO profile gives, and leave one record per
// denial naming container, syscall, pid, comm and rule. Run with real runc 1.1.5, no moatd.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { REPO } from '../../helpers/daemon.js';
import { createProbeBundle } from '../../helpers/probe/bundle.js';
import { parseProbeOutput, probeArgs, verdict } from '../../helpers/probe/index.js';
import { DEFAULT_PROFILE_BATTERY, defaultSeccomp, labelOf } from '../../helpers/probe/battery.js';
import { toNotifyProfile, type LinuxSeccomp } from '../../../src/seccomp/index.js';
import { MOAT_DEFAULT_CAPS } from '../../../src/caps/index.js';
import { startListenerProcess, stopListenerProcess, writeRuleTable, readDenials, readSyscalls, followDenials, removeContainerState, type DenialLine, type DenialRecord } from '../../../src/notify/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface Listener {
  socket: string;
  stateDir: string;
  pid: number;
}

/** A listener on a fresh state dir, stopped (by pid) and removed after the test. */
async function startListener(t: TestContext): Promise<Listener> {
  const dir = mkdtempSync('/tmp/moat-sl-');
  const socket = join(dir, 'seccomp.sock');
  const stateDir = join(dir, 'seccomp');
  let pid = 0;
  t.after(async () => {
    await stopListenerProcess({ stateDir });
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  ({ pid } = await startListenerProcess({ socket, stateDir, listenerBin: join(REPO, 'bin/moat-seccomp-listener'), logLevel: 'debug' }));
  return { socket, stateDir, pid };
}

const isDenial = (r: DenialLine): r is DenialRecord => r.kind === 'denial';

test('notify: the default profile answered by the listener gives the same errnos, and each denial is recorded', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const l = await startListener(t);
  const resolved = defaultSeccomp();
  const { seccomp, table } = toNotifyProfile(resolved.seccomp, l.socket, { comments: resolved.origins.map((o) => o.comment) });
  assert.ok(table.length > 30, 'most blocked rules are converted');
  const b = createProbeBundle({ seccomp, capabilities: MOAT_DEFAULT_CAPS, args: probeArgs(DEFAULT_PROFILE_BATTERY.map(([c]) => c)) });
  t.after(() => b.cleanup());
  await writeRuleTable(l.stateDir, b.id, { rules: table, arch: 'SCMP_ARCH_X86_64', seccomp });
  const followed: DenialLine[] = [];
  const follower = followDenials(l.stateDir, { onRecord: (r) => followed.push(r), intervalMs: 50 });
  t.after(() => follower.close());

  const r = await b.run();
  assert.equal(r.code, 0, `runc run: ${r.stderr}`);
  const { results } = parseProbeOutput(r.stdout);
  const got = DEFAULT_PROFILE_BATTERY.map(([cmd]) => `${labelOf(cmd)} ${verdict(results.get(labelOf(cmd))?.[0])}`);
  const want = DEFAULT_PROFILE_BATTERY.map(([cmd, v]) => `${labelOf(cmd)} ${v}`);
  assert.deepEqual(got, want, 'same answers as the plain ERRNO profile');

  // Every blocked probe except the two the default action answers (personality 6, nr 1000).
  const expectedDenied = DEFAULT_PROFILE_BATTERY.filter(([c, v]) => v !== 'ok' && !(c[0] === 'personality' || c[0] === 'nr')).map(([c]) => c[0]);
  const records = await waitFor('all denial records', async () => {
    const rs = (await readDenials(l.stateDir, b.id)).filter(isDenial);
    return rs.length >= expectedDenied.length ? rs : undefined;
  });
  assert.deepEqual(records.map((x) => x.syscall), expectedDenied);
  assert.deepEqual(records.map((x) => x.seq), records.map((_, i) => i + 1));

  const keyctl = records.find((x) => x.syscall === 'keyctl');
  assert.ok(keyctl);
  assert.equal(keyctl.containerId, b.id);
  assert.equal(keyctl.nr, 250);
  assert.equal(keyctl.arch, 'SCMP_ARCH_X86_64');
  assert.equal(keyctl.comm, 'probe');
  assert.equal(keyctl.nspid, 1, 'the probe is PID 1 in its container');
  assert.ok(keyctl.pid > 1, 'host pid');
  assert.equal(keyctl.errno, 1);
  assert.equal(keyctl.errnoName, 'EPERM');
  assert.equal(keyctl.reason, 'rule');
  assert.match(keyctl.rule?.comment ?? '', /keyring/i);
  assert.equal(seccomp.syscalls?.[keyctl.rule?.index ?? -1]?.names.includes('keyctl'), true, 'rule index points into the converted section');
  assert.equal(keyctl.args[1], '0xfffffffd', 'KEY_SPEC_SESSION_KEYRING as u64 hex');

  // Rules that share a name are told apart by their argument checks.
  const sockets = records.filter((x) => x.syscall === 'socket');
  assert.match(sockets[0]?.rule?.comment ?? '', /AF_VSOCK/);
  assert.match(sockets[1]?.rule?.comment ?? '', /AF_ALG/);
  const clones = records.filter((x) => x.syscall === 'clone');
  assert.match(clones[0]?.rule?.comment ?? '', /CLONE_NEWUSER/);
  assert.match(clones[1]?.rule?.comment ?? '', /CLONE_NEWNS/);
  assert.equal(records.find((x) => x.syscall === 'clone3')?.errnoName, 'ENOSYS');

  // followDenials saw the same lines, in order; readDenials' `last`.
  await waitFor('follower', () => (followed.length >= records.length ? true : undefined));
  assert.deepEqual(followed.map((x) => x.seq), records.map((x) => x.seq));
  assert.deepEqual((await readDenials(l.stateDir, b.id, { last: 1 })).map((x) => x.seq), [records.length]);
  await removeContainerState(l.stateDir, b.id);
  assert.deepEqual(await readDenials(l.stateDir, b.id), []);
});

/** defaultAction ALLOW with one ERRNO(13) rule per name, converted for the listener. */
function notifyProfileFor(socket: string, names: string[]): { seccomp: LinuxSeccomp; table: ReturnType<typeof toNotifyProfile>['table'] } {
  return toNotifyProfile({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names, action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }, socket, { comments: ['test rule'] });
}

test('notify: errnoRet is kept (EACCES), and a container without a rule table gets EPERM (fail closed)', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const l = await startListener(t);
  const { seccomp, table } = notifyProfileFor(l.socket, ['getppid']);
  const withTable = createProbeBundle({ seccomp, args: probeArgs([['getppid'], ['getpid']]) });
  t.after(() => withTable.cleanup());
  await writeRuleTable(l.stateDir, withTable.id, { rules: table, arch: 'SCMP_ARCH_X86_64' });
  const a = await withTable.run();
  assert.equal(a.code, 0, a.stderr);
  assert.equal(verdict(parseProbeOutput(a.stdout).results.get('getppid')?.[0]), 'EACCES');
  assert.equal(verdict(parseProbeOutput(a.stdout).results.get('getpid')?.[0]), 'ok');

  const noTable = createProbeBundle({ seccomp, args: probeArgs([['getppid']]) });
  t.after(() => noTable.cleanup());
  const r = await noTable.run();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(verdict(parseProbeOutput(r.stdout).results.get('getppid')?.[0]), 'EPERM');
  const [rec] = await waitFor('record', async () => ((await readDenials(l.stateDir, noTable.id)).length > 0 ? await readDenials(l.stateDir, noTable.id) : undefined));
  assert.ok(rec !== undefined && isDenial(rec));
  assert.equal(rec.reason, 'no-table');
  assert.equal(rec.syscall, 'getppid');
  assert.equal(rec.rule, null);
});

test('notify: record mode lets every notified call run and lists each syscall once', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const l = await startListener(t);
  const { seccomp, table } = notifyProfileFor(l.socket, ['getppid', 'mkdir', 'umask']);
  const b = createProbeBundle({ seccomp, args: probeArgs([['getppid'], ['getppid'], ['mkdir'], ['umask']]) });
  t.after(() => b.cleanup());
  await writeRuleTable(l.stateDir, b.id, { rules: table, arch: 'SCMP_ARCH_X86_64', mode: 'record' });
  const r = await b.run();
  assert.equal(r.code, 0, r.stderr);
  const { results } = parseProbeOutput(r.stdout);
  assert.deepEqual(results.get('getppid')?.map(verdict), ['ok', 'ok']);
  assert.equal(verdict(results.get('mkdir')?.[0]), 'ok');
  assert.ok(existsSync(join(b.rootfs, 'tmp/moat-probe-dir')), 'mkdir really ran');
  const seen = await waitFor('syscall records', async () => {
    const s = await readSyscalls(l.stateDir, b.id);
    return s.length >= 3 ? s : undefined;
  });
  assert.deepEqual(seen.map((s) => s.syscall), ['getppid', 'mkdir', 'umask']);
  assert.equal(seen[0]?.comm, 'probe');
  assert.deepEqual(await readDenials(l.stateDir, b.id), []);
});

test('notify: a denial loop is answered every time but recorded within a budget', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const l = await startListener(t);
  const { seccomp, table } = notifyProfileFor(l.socket, ['getppid']);
  const b = createProbeBundle({ seccomp, args: probeArgs([['repeat', '1000', 'getppid']]) });
  t.after(() => b.cleanup());
  await writeRuleTable(l.stateDir, b.id, { rules: table, arch: 'SCMP_ARCH_X86_64' });
  const r = await b.run();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(verdict(parseProbeOutput(r.stdout).results.get('getppid')?.[0]), 'EACCES');
  const nsPerCall = Number(/ns_per_call (\d+)/.exec(r.stdout)?.[1]);
  t.diagnostic(`notified getppid: ${nsPerCall} ns per call`);
  const lines = await waitFor('dropped record', async () => {
    const rs = await readDenials(l.stateDir, b.id);
    return rs.some((x) => x.kind === 'dropped') ? rs : undefined;
  });
  const denials = lines.filter(isDenial);
  const dropped = lines.find((x) => x.kind === 'dropped');
  assert.ok(denials.length >= 200 && denials.length < 1000, `${denials.length} records written`);
  const counted = denials.length + denials.reduce((s, x) => s + (x.suppressed ?? 0), 0) + (dropped?.kind === 'dropped' ? dropped.count : 0);
  assert.equal(counted, 1000, 'every denial is written or counted');
});

test('notify: when the listener dies, notified syscalls get ENOSYS (still denied)', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const l = await startListener(t);
  const { seccomp, table } = notifyProfileFor(l.socket, ['getppid']);
  const b = createProbeBundle({ seccomp, args: probeArgs([['getppid'], ['waitfile', '/tmp/go'], ['getppid'], ['getpid']]) });
  t.after(() => b.cleanup());
  await writeRuleTable(l.stateDir, b.id, { rules: table, arch: 'SCMP_ARCH_X86_64' });
  let killed = false;
  const run = b.runStreaming((line) => {
    if (killed || !line.startsWith('getppid ')) return;
    killed = true;
    process.kill(l.pid, 'SIGKILL');
    void (async () => {
      await waitFor('listener exit', () => {
        try {
          process.kill(l.pid, 0);
          return undefined;
        } catch {
          return true;
        }
      });
      writeFileSync(join(b.rootfs, 'tmp/go'), '');
    })();
  });
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  const { results } = parseProbeOutput(r.stdout);
  assert.deepEqual(results.get('getppid')?.map(verdict), ['EACCES', 'ENOSYS'], 'answered by the listener, then by the kernel');
  assert.equal(verdict(results.get('getpid')?.[0]), 'ok');
});

test('notify: runc exec brings its own filter and notify fd; its denials land in the same container record', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const l = await startListener(t);
  const { seccomp, table } = notifyProfileFor(l.socket, ['getppid']);
  const b = createProbeBundle({ seccomp, args: probeArgs([['waitfile', '/tmp/go'], ['getppid']]) });
  t.after(() => b.cleanup());
  await writeRuleTable(l.stateDir, b.id, { rules: table, arch: 'SCMP_ARCH_X86_64' });
  const run = b.run();
  // runc writes state.json at create; the exec waits for the container to be running.
  await waitFor('container created', () => (existsSync(join(b.runcRoot, b.id, 'state.json')) ? true : undefined));
  await sleep(100);
  const e = await b.exec(probeArgs([['getppid'], ['getpid']]));
  assert.equal(e.code, 0, e.stderr);
  assert.equal(verdict(parseProbeOutput(e.stdout).results.get('getppid')?.[0]), 'EACCES');
  writeFileSync(join(b.rootfs, 'tmp/go'), '');
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(verdict(parseProbeOutput(r.stdout).results.get('getppid')?.[0]), 'EACCES');
  const recs = await waitFor('two records', async () => {
    const rs = (await readDenials(l.stateDir, b.id)).filter(isDenial);
    return rs.length >= 2 ? rs : undefined;
  });
  assert.deepEqual(recs.map((x) => [x.seq, x.syscall, x.containerId]), [[1, 'getppid', b.id], [2, 'getppid', b.id]]);
  assert.notEqual(recs[0]?.nspid, 1, 'the exec process');
  assert.equal(recs[1]?.nspid, 1, 'the init process');
});

test('notify: with no listener on listenerPath, runc refuses to start the container', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const dir = mkdtempSync('/tmp/moat-sl-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { seccomp } = notifyProfileFor(join(dir, 'seccomp.sock'), ['getppid']);
  const b = createProbeBundle({ seccomp, args: ['getpid'] });
  t.after(() => b.cleanup());
  const r = await b.run();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /failed to connect with seccomp agent specified in the seccomp profile/);
  assert.equal(r.stdout, '', 'the process never ran');
});
