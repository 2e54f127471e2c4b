// Each container gets its own pid, mount, ipc, uts, net (loopback only) and cgroup
// namespaces, its hostname (the short id) and its own /etc/hosts, /etc/hostname, /etc/resolv.conf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { inspect, run, waitLog } from '../../helpers/containers.js';

const OWN = ['pid', 'mnt', 'ipc', 'uts', 'net', 'cgroup'] as const;

/** The host's namespace links: this process's (moatd's are the same) and PID 1's when readable. */
function hostNs(ns: string): string[] {
  const out = [readlinkSync(`/proc/self/ns/${ns}`)];
  try {
    out.push(readlinkSync(`/proc/1/ns/${ns}`));
  } catch {
    // PID 1 of a sandboxed host may be out of reach (no CAP_SYS_PTRACE over it)
  }
  return out;
}

async function sh(d: TestDaemon, id: string, script: string): Promise<string> {
  const r = await d.moat(['exec', id, 'sh', '-c', script]);
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
}

async function nsLinks(d: TestDaemon, id: string): Promise<Record<string, string>> {
  const out = await sh(d, id, `for n in ${[...OWN, 'user'].join(' ')}; do echo "$n $(readlink /proc/self/ns/$n)"; done`);
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
}

test('containers are isolated in their own namespaces', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const a = await run(d, ['sh', '-c', 'echo ready; exec sleep 100']);
  const b = await run(d, ['sh', '-c', 'echo ready; exec sleep 100'], { Hostname: 'custom-host' });
  await waitLog(d, a, 'ready');
  await waitLog(d, b, 'ready');

  await t.test('pid, mnt, ipc, uts, net and cgroup namespaces differ from the host and from each other', async () => {
    const na = await nsLinks(d, a);
    const nb = await nsLinks(d, b);
    for (const ns of OWN) {
      assert.match(na[ns] ?? '', new RegExp(`^${ns}:\\[\\d+\\]$`), `${ns} link inside`);
      for (const host of hostNs(ns)) {
        assert.notEqual(na[ns], host, `${ns} namespace is the host's`);
        assert.notEqual(nb[ns], host, `${ns} namespace is the host's`);
      }
      assert.notEqual(na[ns], nb[ns], `two containers share the ${ns} namespace`);
      // The container's init (seen from the host) is in the same namespace as the exec.
      assert.equal(readlinkSync(`/proc/${(await inspect(d, a)).State.Pid}/ns/${ns}`), na[ns], `${ns} of init vs exec`);
    }
    // No user namespace by default (no --userns-remap): the host's.
    assert.equal(na['user'], hostNs('user')[0]);
  });

  await t.test('the container is PID 1 of its namespace and sees no host process', async () => {
    const ps = await sh(d, a, 'ls -d /proc/[0-9]* | wc -l; cat /proc/1/cmdline | tr "\\0" " "');
    const [count, cmd] = ps.trim().split('\n');
    assert.equal(cmd?.trim(), 'sleep 100');
    // init, the exec'ed sh and its children: a handful, not the host's hundreds.
    assert.ok(Number(count) <= 5, `${count} processes visible`);
  });

  await t.test('the network namespace has loopback and eth0 on the default bridge', async () => {
    const devs = await sh(d, a, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    assert.deepEqual(devs.trim().split('\n').sort(), ['eth0', 'lo']);
    const flags = Number((await sh(d, a, 'cat /sys/class/net/lo/flags')).trim());
    assert.equal(flags & 1, 1, `lo is up (flags ${flags})`);
  });

  await t.test('the cgroup namespace roots the container at /', async () => {
    const cg = await sh(d, a, 'cat /proc/self/cgroup');
    const lines = cg.trim().split('\n');
    assert.ok(lines.length > 0);
    for (const l of lines) assert.match(l, /^\d+:[^:]*:\/$/, `cgroup line ${l}`);
  });

  await t.test('hostname is the short id; /etc/hostname, /etc/hosts, /etc/resolv.conf are present', async () => {
    const short = a.slice(0, 12);
    assert.equal(await sh(d, a, 'hostname'), `${short}\n`);
    assert.equal(await sh(d, a, 'cat /etc/hostname'), `${short}\n`);
    assert.equal(await sh(d, a, 'echo $HOSTNAME'), `${short}\n`);
    const hosts = await sh(d, a, 'cat /etc/hosts');
    assert.match(hosts, /^127\.0\.0\.1\s+localhost$/m);
    const bridgeAddress = `${d.bridgeSubnet.prefix.replaceAll('.', '\\.')}\\.\\d+`;
    assert.match(hosts, new RegExp(`^${bridgeAddress}\\s+${short}$`, 'm'), 'the hostname is on its address on the default bridge');
    assert.equal(await sh(d, a, 'test -f /etc/resolv.conf && echo yes'), 'yes\n');
    // No loopback resolver of the host leaks in: it would be unreachable from this netns.
    assert.doesNotMatch(await sh(d, a, 'cat /etc/resolv.conf'), /^\s*nameserver\s+127\./m);
    assert.equal((await inspect(d, a)).Config.Hostname, short);

    assert.equal(await sh(d, b, 'hostname'), 'custom-host\n');
    assert.equal(await sh(d, b, 'cat /etc/hostname'), 'custom-host\n');
    assert.match(await sh(d, b, 'cat /etc/hosts'), new RegExp(`^${bridgeAddress}\\s+custom-host$`, 'm'));
  });

  await t.test("writes to one container's /etc files and rootfs do not reach another or the host", async () => {
    await sh(d, a, 'echo changed > /etc/hostname; echo x > /tmp/only-in-a');
    assert.equal(await sh(d, b, 'cat /etc/hostname'), 'custom-host\n');
    assert.equal(await sh(d, b, 'test -e /tmp/only-in-a && echo leak || echo none'), 'none\n');
  });
});
