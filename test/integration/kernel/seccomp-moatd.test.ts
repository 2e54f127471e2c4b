// Seccomp through moatd: the default profile's verdicts seen by a probe, the denial of
// keyctl explained as an event for the right container and in inspect, custom profiles,
// amendments without a file, unconfined, invalid profiles, and the explainer switched off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, basename, join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { buildProbe, parseProbeOutput, probeArgs, verdict } from '../../helpers/probe/index.js';
import { DEFAULT_PROFILE_BATTERY, labelOf } from '../../helpers/probe/battery.js';
import { defaultProfile } from '../../../src/seccomp/index.js';
import { kernelRunsX32 } from '../../../src/sys/index.js';

// x32 calls are x86_64 syscall numbers with bit 30 set: getpid is 39, mount 165 in both tables.
const X32_GETPID = ['nr', '0x40000027'] as const;
const X32_MOUNT = ['nr', '0x400000a5'] as const;

async function probe(d: TestDaemon, probePath: string, runArgs: string[], cmds: ReadonlyArray<readonly string[]>): Promise<{ code: number; stdout: string; stderr: string }> {
  return await d.moat(['run', '--rm', '-v', `${dirname(probePath)}:/p:ro`, ...runArgs, 'busybox', `/p/${basename(probePath)}`, ...probeArgs(cmds)]);
}

test('seccomp under moatd', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const probePath = buildProbe();
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const tmp = mkdtempSync('/tmp/mt-seccomp-');
  t.after(() => rmSync(tmp, { recursive: true, force: true }));

  await t.test('the default profile: every battery verdict, same errno as the plain profile', async () => {
    const r = await probe(d, probePath, [], DEFAULT_PROFILE_BATTERY.map(([c]) => c));
    const { results } = parseProbeOutput(r.stdout);
    for (const [cmd, want] of DEFAULT_PROFILE_BATTERY) {
      assert.equal(verdict(results.get(labelOf(cmd))?.[0]), want, labelOf(cmd));
    }
  });

  await t.test('the denial of keyctl is an event for the right container and shows in inspect', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const c = await d.moat(['run', '--name', 'kc', '-v', `${dirname(probePath)}:/p:ro`, 'busybox', `/p/${basename(probePath)}`, 'keyctl']);
    assert.match(c.stdout, /keyctl errno 1 EPERM/);
    let ev: { Actor: { ID: string; Attributes: Record<string, string> } } | undefined;
    for (let i = 0; i < 40 && !ev; i++) {
      const res = await d.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ event: { 'seccomp-denied': true }, container: { kc: true } }))}`);
      ev = res.body.toString().split('\n').filter((l) => l).map((l) => JSON.parse(l) as NonNullable<typeof ev>).find((e) => e.Actor.Attributes['syscall'] === 'keyctl');
      if (!ev) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ev, 'a seccomp-denied event for keyctl');
    const id = (await d.api('GET', '/containers/kc/json')).json<{ Id: string }>().Id;
    assert.equal(ev.Actor.ID, id);
    assert.equal(ev.Actor.Attributes['name'], 'kc');
    assert.equal(ev.Actor.Attributes['errno'], 'EPERM');
    assert.ok(ev.Actor.Attributes['reason'], 'the rule says why');
    const insp = (await d.api('GET', '/containers/kc/json')).json<{ Security: { SeccompDenials: Array<{ syscall: string; comm: string }>; Seccomp: { Explainer: string } } }>();
    assert.equal(insp.Security.Seccomp.Explainer, 'notify');
    assert.ok(insp.Security.SeccompDenials.some((x) => x.syscall === 'keyctl' && x.comm.startsWith('probe')));
    const cli = await d.moat(['seccomp', 'denials', 'kc']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /explainer notify/);
    assert.match(cli.stdout, /keyctl\s+EPERM/);
    await d.api('DELETE', '/containers/kc');
  });

  await t.test('custom profiles: errno with and without errnoRet, kill, an argument filter', async () => {
    const profile = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        // Not getppid: runc's init calls it after loading the filter, and kills itself if it fails.
        { names: ['umask'], action: 'SCMP_ACT_ERRNO' },
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 6, op: 'SCMP_CMP_EQ' }] },
      ],
    };
    const file = join(tmp, 'p.json');
    writeFileSync(file, JSON.stringify(profile));
    const r = await probe(d, probePath, ['--security-opt', `seccomp=${file}`], [['mkdir'], ['umask'], ['personality', '6'], ['personality'], ['getpid']]);
    const { results } = parseProbeOutput(r.stdout);
    assert.equal(verdict(results.get('mkdir')?.[0]), 'EACCES');
    assert.equal(verdict(results.get('umask')?.[0]), 'EPERM', 'no errnoRet: EPERM');
    assert.equal(verdict(results.get('personality:6')?.[0]), 'EINVAL');
    assert.equal(verdict(results.get('personality')?.[0]), 'ok');
    writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['umask'], action: 'SCMP_ACT_KILL' }] }));
    const killed = await probe(d, probePath, ['--security-opt', `seccomp=${file}`], [['umask']]);
    assert.equal(killed.code, 159, 'SIGSYS: 128 + 31');
  });

  await t.test('seccomp-allow and seccomp-deny amend the default, shown in inspect', async () => {
    const r = await probe(d, probePath, ['--security-opt', 'seccomp-allow=personality', '--security-opt', 'seccomp-deny=umask'], [['personality', '6'], ['umask'], ['keyctl']]);
    const { results } = parseProbeOutput(r.stdout);
    assert.equal(verdict(results.get('personality:6')?.[0]), 'ok', 'allowed: every personality value reaches the kernel');
    assert.equal(verdict(results.get('umask')?.[0]), 'EPERM');
    assert.equal(verdict(results.get('keyctl')?.[0]), 'EPERM', 'the rest of the default stays');
    const c = await d.api('POST', '/containers/create?name=am', { Image: 'busybox', Cmd: ['true'], HostConfig: { SecurityOpt: ['seccomp-allow=personality', 'seccomp-deny=umask'] } });
    assert.equal(c.status, 201);
    const sec = (await d.api('GET', '/containers/am/json')).json<{ Security: { Seccomp: { Allow: string[]; Deny: string[]; Profile: string } } }>().Security.Seccomp;
    assert.deepEqual(sec.Allow, ['personality']);
    assert.deepEqual(sec.Deny, ['umask']);
    await d.api('DELETE', '/containers/am');
  });

  await t.test('x32 calls: the built-in profile filters x32 only where the kernel runs it; a profile that lists it keeps it', async () => {
    // What the kernel itself answers an x32 call (no filter): the premise of the probe.
    const bare = await probe(d, probePath, ['--security-opt', 'seccomp=unconfined'], [X32_GETPID]);
    const x32 = kernelRunsX32();
    assert.equal(verdict(parseProbeOutput(bare.stdout).results.get('nr:0x40000027')?.[0]), x32 ? 'ok' : 'ENOSYS', bare.stdout);
    // The portable profile (what `moat seccomp default` prints) lists SCMP_ARCH_X32 and, given
    // by the user, keeps it: x32 getpid passes the filter and the kernel answers; mount is EPERM.
    const file = join(tmp, 'portable.json');
    writeFileSync(file, JSON.stringify(defaultProfile()));
    const listed = await probe(d, probePath, ['--security-opt', `seccomp=${file}`], [X32_GETPID, X32_MOUNT]);
    const got = parseProbeOutput(listed.stdout).results;
    assert.equal(verdict(got.get('nr:0x40000027')?.[0]), x32 ? 'ok' : 'ENOSYS', listed.stdout);
    assert.equal(verdict(got.get('nr:0x400000a5')?.[0]), 'EPERM', listed.stdout);
    assert.equal(listed.code, 0);
    // The built-in default on this kernel.
    for (const call of [X32_GETPID, X32_MOUNT]) {
      const r = await probe(d, probePath, [], [['getpid'], call]);
      const res = parseProbeOutput(r.stdout).results;
      assert.equal(verdict(res.get('getpid')?.[0]), 'ok', 'x86_64 calls run as before');
      const label = `nr:${call[1]}`;
      if (x32) {
        assert.equal(verdict(res.get(label)?.[0]), call === X32_GETPID ? 'ok' : 'EPERM', r.stdout);
      } else {
        // No x32 section in the filter: libseccomp's bad-arch action (runc leaves KILL_THREAD)
        // ends the process before the call runs, where the kernel would have said ENOSYS.
        assert.equal(res.get(label), undefined, r.stdout);
        assert.equal(r.code, 159, 'SIGSYS: 128 + 31');
      }
    }
  });

  await t.test('unconfined and privileged run without a filter', async () => {
    const un = await d.moat(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']);
    assert.match(un.stdout, /Seccomp:\s+0/);
    const pr = await d.moat(['run', '--rm', '--privileged', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']);
    assert.match(pr.stdout, /Seccomp:\s+0/);
    const def = await d.moat(['run', '--rm', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']);
    assert.match(def.stdout, /Seccomp:\s+2/);
  });

  await t.test('an invalid profile is a 400 naming the problem, and no container is created', async () => {
    const before = (await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length;
    const bad = [
      [{ defaultAction: 'SCMP_ACT_NOPE' }, /defaultAction/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdirr'], action: 'SCMP_ACT_ERRNO' }] }, /mkdirr/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 0, value: 2, op: 'SCMP_CMP_EQ' }] }] }, /syscalls\[0\]\.args/],
    ] as const;
    for (const [p, msg] of bad) {
      const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { SecurityOpt: [`seccomp=${JSON.stringify(p)}`] } });
      assert.equal(r.status, 400, JSON.stringify(p));
      assert.match(r.json<{ message: string }>().message, msg);
    }
    assert.equal((await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length, before);
  });
});

test('--no-seccomp-explain: plain errno rules, same verdicts', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const probePath = buildProbe();
  const d = await startDaemon({ args: ['--no-seccomp-explain'] });
  t.after(() => d.cleanup());
  const r = await probe(d, probePath, [], [['keyctl'], ['getpid'], ['nr', '1000']]);
  const { results } = parseProbeOutput(r.stdout);
  assert.equal(verdict(results.get('keyctl')?.[0]), 'EPERM');
  assert.equal(verdict(results.get('getpid')?.[0]), 'ok');
  assert.equal(verdict(results.get('nr:1000')?.[0]), 'ENOSYS');
  const c = await d.api('POST', '/containers/create?name=x1', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(c.status, 201);
  await d.api('POST', '/containers/x1/start');
  const sec = (await d.api('GET', '/containers/x1/json')).json<{ Security: { Seccomp: { Explainer: string } } }>().Security.Seccomp;
  assert.equal(sec.Explainer, 'off');
  await d.api('DELETE', '/containers/x1?force=1');
});
