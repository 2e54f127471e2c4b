// Isolation and hardening, read from inside real containers: capabilities, the pids limit
// under a fork bomb, OOM kills, masked and read-only paths, --read-only with tmpfs,
// sysctl and capability refusals, namespace modes, and unprivileged ping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, copyFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, cgroupDirsOf, REPO, type TestDaemon } from '../../helpers/daemon.js';

const MOAT_DEFAULT = 0x800405fbn; // Docker's 14 minus NET_RAW, MKNOD, AUDIT_WRITE
const CAP_NET_ADMIN = 12n;

function statusField(out: string, field: string): bigint {
  const m = new RegExp(`^${field}:\\s+([0-9a-f]+)$`, 'm').exec(out);
  assert.ok(m, `${field} in ${out}`);
  return BigInt(`0x${m[1]}`);
}

async function run(d: TestDaemon, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return await d.moat(['run', '--rm', ...args], { timeoutMs });
}

test('isolation and hardening, observed from inside containers', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const ownBnd = statusField(readFileSync('/proc/self/status', 'utf8'), 'CapBnd');

  await t.test('capability sets: default, drop ALL, add, privileged, non-root', async () => {
    const caps = 'grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status';
    const def = await run(d, ['busybox', 'sh', '-c', caps]);
    assert.equal(def.code, 0, def.stderr);
    assert.equal(statusField(def.stdout, 'CapEff'), MOAT_DEFAULT);
    assert.equal(statusField(def.stdout, 'CapBnd'), MOAT_DEFAULT);
    const none = await run(d, ['--cap-drop', 'ALL', 'busybox', 'sh', '-c', caps]);
    assert.equal(statusField(none.stdout, 'CapEff'), 0n);
    assert.equal(statusField(none.stdout, 'CapBnd'), 0n);
    const add = await run(d, ['--cap-add', 'net_admin', 'busybox', 'sh', '-c', caps]);
    assert.equal(statusField(add.stdout, 'CapEff'), MOAT_DEFAULT | (1n << CAP_NET_ADMIN));
    const drop = await run(d, ['--cap-drop', 'CAP_CHOWN', '--cap-add', 'chown', 'busybox', 'sh', '-c', caps]);
    assert.equal(statusField(drop.stdout, 'CapEff'), MOAT_DEFAULT, 'add wins over drop for the same capability');
    const priv = await run(d, ['--privileged', 'busybox', 'sh', '-c', caps]);
    assert.equal(priv.code, 0, `privileged starts although this root lacks some capabilities: ${priv.stderr}`);
    assert.equal(statusField(priv.stdout, 'CapEff'), ownBnd, "privileged = the daemon's own bounding set");
    const user = await run(d, ['-u', 'nobody', 'busybox', 'sh', '-c', caps]);
    assert.equal(statusField(user.stdout, 'CapEff'), 0n, 'non-root: no effective capabilities');
    assert.equal(statusField(user.stdout, 'CapPrm'), 0n);
    assert.equal(statusField(user.stdout, 'CapBnd'), MOAT_DEFAULT, 'non-root: bounding set as configured');
  });

  await t.test('unknown capability and non-namespaced sysctl are refused with a 400 naming them, creating nothing', async () => {
    const before = (await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length;
    const cap = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { CapAdd: ['CAP_FOO'] } });
    assert.equal(cap.status, 400);
    assert.match(cap.json<{ message: string }>().message, /CAP_FOO/);
    const sys = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Sysctls: { 'kernel.randomize_va_space': '0' } } });
    assert.equal(sys.status, 400);
    assert.match(sys.json<{ message: string }>().message, /kernel\.randomize_va_space/);
    const net = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } } });
    assert.equal(net.status, 400, 'net.* sysctls are refused in the host network namespace');
    assert.equal((await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length, before);
    const ok = await run(d, ['--sysctl', 'net.ipv4.ip_unprivileged_port_start=80', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start']);
    assert.equal(ok.stdout.trim(), '80');
  });

  await t.test('a fork bomb stays inside --pids-limit 64, fork gets EAGAIN, an event names the limit', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const bomb = await d.api('POST', '/containers/create?name=bomb', { Image: 'busybox', Cmd: ['sh', '-c', 'f(){ f|f& }; f; sleep 600'], HostConfig: { PidsLimit: 64 } });
    assert.equal(bomb.status, 201, bomb.body.toString());
    const id = bomb.json<{ Id: string }>().Id;
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    const pidsDir = cgroupDirsOf(d.cgroupParent).find((p) => p.includes('/pids/'));
    assert.ok(pidsDir, 'the pids cgroup parent exists');
    let peak = 0;
    let refused = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const current = Number(readFileSync(join(pidsDir, id, 'pids.current'), 'utf8'));
      peak = Math.max(peak, current);
      refused = Number(/max (\d+)/.exec(readFileSync(join(pidsDir, id, 'pids.events'), 'utf8'))?.[1] ?? 0);
      if (refused > 0 && current >= 60) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(readFileSync(join(pidsDir, id, 'pids.max'), 'utf8').trim(), '64');
    assert.ok(peak <= 64, `never more than 64 tasks (saw ${peak})`);
    assert.ok(refused > 0, 'forks were refused');
    // moatd stays responsive while the bomb runs.
    const t0 = Date.now();
    assert.equal((await d.api('GET', '/_ping')).status, 200);
    assert.ok(Date.now() - t0 < 2000, 'ping answered within 2 s');
    // The shell's message reaches the log through conmon a moment after the kernel refused.
    let logText = '';
    for (let i = 0; i < 50 && !/can't fork: Resource temporarily unavailable/.test(logText); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      logText = (await d.api('GET', `/containers/${id}/logs?stderr=1&stdout=1`)).body.toString('latin1');
    }
    assert.match(logText, /can't fork: Resource temporarily unavailable/, 'fork failed with EAGAIN');
    let hit: { Action: string; Actor: { ID: string; Attributes: Record<string, string> } } | undefined;
    for (let i = 0; i < 50 && !hit; i++) {
      const ev = await d.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ event: { 'pids-limit': true } }))}`);
      hit = ev.body.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as NonNullable<typeof hit>).find((e) => e.Actor.ID === id);
      if (!hit) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(hit, 'a pids-limit event was emitted');
    assert.equal(hit.Actor.Attributes['name'], 'bomb');
    assert.equal(hit.Actor.Attributes['limit'], '64');
    const rm = await d.api('DELETE', `/containers/${id}?force=1`);
    assert.equal(rm.status, 204);
    assert.equal(existsSync(join(pidsDir, id)), false, 'the cgroup is gone');
  });

  await t.test('the default pids limit is 2048; -1 is unlimited', async () => {
    const def = await run(d, ['busybox', 'cat', '/sys/fs/cgroup/pids/pids.max']);
    assert.equal(def.stdout.trim(), '2048');
    const unl = await run(d, ['--pids-limit', '-1', 'busybox', 'cat', '/sys/fs/cgroup/pids/pids.max']);
    assert.equal(unl.stdout.trim(), 'max');
    const insp = await d.api('POST', '/containers/create?name=pl', { Image: 'busybox', Cmd: ['true'] });
    const view = (await d.api('GET', '/containers/pl/json')).json<{ HostConfig: { PidsLimit: number | null } }>();
    assert.ok(insp.status === 201);
    assert.equal(view.HostConfig.PidsLimit, 2048);
    await d.api('DELETE', '/containers/pl');
  });

  await t.test('an OOM kill exits 137 with OOMKilled and an oom event', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const c = await d.api('POST', '/containers/create?name=hog', { Image: 'busybox', Cmd: ['sh', '-c', 'x=a; while true; do x=$x$x; done'], HostConfig: { Memory: 16 * 1024 * 1024 } });
    assert.equal(c.status, 201, c.body.toString());
    const wait = d.api('POST', '/containers/hog/wait?condition=next-exit');
    assert.equal((await d.api('POST', '/containers/hog/start')).status, 204);
    const res = (await wait).json<{ StatusCode: number }>();
    assert.equal(res.StatusCode, 137);
    const state = (await d.api('GET', '/containers/hog/json')).json<{ State: { OOMKilled: boolean; ExitCode: number } }>().State;
    assert.equal(state.OOMKilled, true);
    assert.equal(state.ExitCode, 137);
    const ev = await d.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ event: { oom: true } }))}`);
    assert.match(ev.body.toString(), /"Action":"oom"/);
    await d.api('DELETE', '/containers/hog');
  });

  await t.test('masked paths read empty, /proc/sys is read-only, systempaths=unconfined unmasks', async () => {
    // Check every default masked path that exists on this host: files read empty, dirs list empty.
    const masked = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'].filter((p) => existsSync(p));
    assert.ok(masked.length >= 3, `some masked paths exist on this host: ${masked.join(' ')}`);
    const script = masked.map((p) => `if [ -d ${p} ]; then echo "${p} $(ls -A ${p} | wc -l)"; else echo "${p} $(cat ${p} | wc -c)"; fi`).join('; ');
    const r = await run(d, ['busybox', 'sh', '-c', `${script}; echo 1 > /proc/sys/kernel/ns_last_pid && echo wrote || echo refused`]);
    const lines = r.stdout.trim().split('\n');
    for (const [i, p] of masked.entries()) assert.equal(lines[i], `${p} 0`, `${p} is masked`);
    assert.equal(lines[masked.length], 'refused');
    assert.match(r.stderr, /Read-only file system/);
    const inspect = await d.api('POST', '/containers/create?name=mp', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(inspect.status, 201);
    await d.api('POST', '/containers/mp/start');
    const sec = (await d.api('GET', '/containers/mp/json')).json<{ Security: { MaskedPaths: string[]; ReadonlyPaths: string[] } }>().Security;
    assert.ok(sec.MaskedPaths.includes('/proc/kcore'));
    assert.ok(sec.ReadonlyPaths.includes('/proc/sys'));
    await d.api('DELETE', '/containers/mp?force=1');
    const un = await d.api('POST', '/containers/create?name=unc', { Image: 'busybox', Cmd: ['sh', '-c', 'cat /proc/keys > /dev/null && echo readable'], HostConfig: { MaskedPaths: [], ReadonlyPaths: [] } });
    assert.equal(un.status, 201);
    const w = d.api('POST', '/containers/unc/wait?condition=next-exit');
    await d.api('POST', '/containers/unc/start');
    await w;
    const logs = (await d.api('GET', '/containers/unc/logs?stdout=1')).body.toString('latin1');
    assert.match(logs, /readable/);
    await d.api('DELETE', '/containers/unc');
  });

  await t.test('--read-only blocks writes while a --tmpfs mount works', async () => {
    const r = await run(d, ['--read-only', '--tmpfs', '/scratch', 'busybox', 'sh', '-c', 'touch /x 2>/dev/null && echo root-writable || echo root-ro; touch /scratch/y && echo tmpfs-ok']);
    assert.equal(r.stdout, 'root-ro\ntmpfs-ok\n');
  });

  await t.test('bind mounts: -v host:ctr:ro is read-only, private propagation', async () => {
    const dir = mkdtempSync('/tmp/mt-bind-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('sh', ['-c', `echo hostdata > ${dir}/f`]);
    const r = await run(d, ['-v', `${dir}:/data:ro`, 'busybox', 'sh', '-c', 'cat /data/f; touch /data/g 2>/dev/null && echo writable || echo ro; grep " /data " /proc/self/mountinfo']);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'hostdata');
    assert.equal(lines[1], 'ro');
    assert.doesNotMatch(lines[2] ?? '', /shared:/, 'no shared propagation');
    const rw = await run(d, ['--mount', `type=bind,src=${dir},dst=/m`, 'busybox', 'sh', '-c', 'echo ctr > /m/g']);
    assert.equal(rw.code, 0, rw.stderr);
    assert.equal(readFileSync(join(dir, 'g'), 'utf8'), 'ctr\n');
  });

  await t.test('namespace modes seen from inside', async () => {
    const hostNs = (kind: string): string => readlinkSync(`/proc/self/ns/${kind}`);
    const ns = async (args: string[], kind: string): Promise<string> => (await run(d, [...args, 'busybox', 'readlink', `/proc/self/ns/${kind}`])).stdout.trim();
    assert.notEqual(await ns([], 'pid'), hostNs('pid'));
    assert.equal(await ns(['--pid', 'host'], 'pid'), hostNs('pid'));
    assert.notEqual(await ns([], 'uts'), hostNs('uts'));
    assert.equal(await ns(['--uts', 'host'], 'uts'), hostNs('uts'));
    assert.equal(await ns(['--network', 'host'], 'net'), hostNs('net'));
    assert.notEqual(await ns(['--network', 'none'], 'net'), hostNs('net'));
    assert.equal(await ns(['--ipc', 'host'], 'ipc'), hostNs('ipc'));
    assert.equal(await ns(['--cgroupns', 'host'], 'cgroup'), hostNs('cgroup'));
    assert.notEqual(await ns([], 'cgroup'), hostNs('cgroup'));
    const lo = await run(d, ['--network', 'none', 'busybox', 'ls', '/sys/class/net']);
    assert.equal(lo.stdout.trim(), 'lo', 'loopback only');
    const donor = await d.api('POST', '/containers/create?name=donor', { Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: { IpcMode: 'shareable' } });
    assert.equal(donor.status, 201);
    await d.api('POST', '/containers/donor/start');
    const donorNs = (await d.moat(['exec', 'donor', 'sh', '-c', 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/net; readlink /proc/self/ns/pid'])).stdout.trim().split('\n');
    const joined = (await run(d, ['--ipc', 'container:donor', '--network', 'container:donor', '--pid', 'container:donor', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/net; readlink /proc/self/ns/pid'])).stdout.trim().split('\n');
    assert.deepEqual(joined, donorNs);
    const priv = await d.api('POST', '/containers/create?name=nonshare', { Image: 'busybox', Cmd: ['sleep', '300'] });
    assert.equal(priv.status, 201);
    await d.api('POST', '/containers/nonshare/start');
    const refused = await run(d, ['--ipc', 'container:nonshare', 'busybox', 'true']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /non-shareable IPC/);
    await d.api('DELETE', '/containers/donor?force=1');
    await d.api('DELETE', '/containers/nonshare?force=1');
  });

  await t.test('ping 127.0.0.1 works with the default capabilities (ping_group_range), not with a raw socket', async (t2) => {
    if (!requires(t2, 'gcc')) return;
    const dir = mkdtempSync('/tmp/mt-ping-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('gcc', ['-static', '-O2', '-o', join(dir, 'icmp-ping'), join(REPO, 'test/helpers/ping/icmp-ping.c')]);
    const r = await run(d, ['-v', `${dir}:/t:ro`, 'busybox', 'sh', '-c', 'cat /proc/sys/net/ipv4/ping_group_range; /t/icmp-ping 127.0.0.1']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /0\s+2147483647/);
    assert.match(r.stdout, /reply from 127\.0\.0\.1/);
    const raw = await run(d, ['busybox', 'ping', '-c', '1', '127.0.0.1']);
    assert.notEqual(raw.code, 0, 'no NET_RAW: a raw ICMP socket is refused');
    copyFileSync(join(dir, 'icmp-ping'), join(dir, 'copy'));
  });

  await t.test('inspect shows the effective security state', async () => {
    const c = await d.api('POST', '/containers/create?name=sec', { Image: 'busybox', Cmd: ['sleep', '60'], HostConfig: { CapDrop: ['CAP_KILL'], PidsLimit: 100 } });
    assert.equal(c.status, 201);
    await d.api('POST', '/containers/sec/start');
    const sec = (await d.api('GET', '/containers/sec/json')).json<{ Security: { Capabilities: string[]; Seccomp: { Profile: string; Sha256: string }; Namespaces: Record<string, string>; PidsLimit: number } }>().Security;
    assert.equal(sec.Capabilities.includes('CAP_KILL'), false);
    assert.equal(sec.Capabilities.includes('CAP_CHOWN'), true);
    assert.equal(sec.Seccomp.Profile, 'default');
    assert.match(sec.Seccomp.Sha256, /^sha256:[0-9a-f]{64}$/);
    assert.equal(sec.Namespaces['pid'], 'private');
    assert.equal(sec.PidsLimit, 100);
    await d.api('DELETE', '/containers/sec?force=1');
  });
});
