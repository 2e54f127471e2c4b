// The /etc files and link variables as the docker CLI sees them in real containers:
// `--dns-search`, `--dns-option`, `--domainname` on the default bridge and a user network
// (resolv.conf `search` / `options`, /etc/hosts FQDN, `hostname -d`), the `_START`/`_END`
// variables of an exposed port range and in an exec, and a linking container's /etc/hosts
// following its target to a new address. No traffic leaves the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from '../compat/cli.js';

const esc = (s: string): string => s.replaceAll('.', '\\.');

test('resolv.conf, /etc/hosts and link variables through the docker CLI', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const d = await startDaemon({ args: ['--icc'] });
  t.after(() => d.cleanup());

  await t.test('--dns-search and --dns-option on the default bridge: Docker\'s search and options lines', async () => {
    const rc = await dockerOk(d, ['run', '--rm', '--dns-search', 'a.test', '--dns-search', 'b.test', '--dns-option', 'ndots:3', '--dns-option', 'timeout:2', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.match(rc, /^search a\.test b\.test$/m, rc);
    assert.match(rc, /^options ndots:3 timeout:2$/m, rc);
    assert.match(rc, /^nameserver \S+$/m, rc);
    const plain = await dockerOk(d, ['run', '--rm', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.doesNotMatch(plain, /a\.test|ndots:3/, plain);
    const dot = await dockerOk(d, ['run', '--rm', '--dns-search', '.', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.doesNotMatch(dot, /^search/m, 'a "." search list writes no search line');
  });

  await t.test('on a user network the options keep ndots:0 unless one is given; search as given', async () => {
    await dockerOk(d, ['network', 'create', 'dnsnet']);
    const rc = await dockerOk(d, ['run', '--rm', '--network', 'dnsnet', '--dns-search', 'c.test', '--dns-option', 'timeout:2', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.match(rc, /^search c\.test$/m, rc);
    assert.match(rc, /^options timeout:2 ndots:0$/m, rc);
    const own = await dockerOk(d, ['run', '--rm', '--network', 'dnsnet', '--dns-option', 'ndots:2', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.match(own, /^options ndots:2$/m, own);
  });

  await t.test('--hostname with --domainname: the FQDN on the /etc/hosts line, hostname -d answers', async () => {
    const out = await dockerOk(d, ['run', '--rm', '--hostname', 'web', '--domainname', 'example.test', 'busybox', 'sh', '-c', 'cat /etc/hosts; echo "d=$(hostname -d) f=$(hostname -f) s=$(hostname) k=$(cat /proc/sys/kernel/domainname)"']);
    assert.match(out, /^\S+\tweb\.example\.test web$/m, out);
    // k: the UTS namespace's NIS domain name, which dockerd sets (runc 1.1 ignores the spec's
    // `domainname`; the kernel.domainname sysctl, as dockerd writes it, is applied).
    assert.match(out, /^d=example\.test f=web\.example\.test s=web k=example\.test$/m, out);
    const bare = await dockerOk(d, ['run', '--rm', '--hostname', 'web', 'busybox', 'sh', '-c', 'cat /etc/hosts; echo "d=$(hostname -d)"']);
    assert.match(bare, /^\S+\tweb$/m, bare);
    assert.match(bare, /^d=$/m, bare);
  });

  await t.test('an exposed range of three ports gives the linking container _START/_END variables', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'ranged', '--expose', '7000-7002', 'busybox', 'sleep', '300']);
    const ip = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'ranged'])).trim();
    const env = await dockerOk(d, ['run', '--rm', '--link', 'ranged:svc', 'busybox', 'env']);
    for (const v of [`SVC_PORT_7000_TCP_START=tcp://${ip}:7000`, `SVC_PORT_7000_TCP_END=tcp://${ip}:7002`, 'SVC_PORT_7000_TCP_PORT_START=7000', 'SVC_PORT_7000_TCP_PORT_END=7002', `SVC_PORT_7001_TCP=tcp://${ip}:7001`]) {
      assert.match(env, new RegExp(`^${esc(v)}$`, 'm'), env);
    }
    const two = await dockerOk(d, ['run', '-d', '--name', 'pair', '--expose', '8000-8001', 'busybox', 'sleep', '300']);
    assert.match(two, /^[a-f0-9]{64}/);
    const pairEnv = await dockerOk(d, ['run', '--rm', '--link', 'pair:p', 'busybox', 'env']);
    assert.doesNotMatch(pairEnv, /_START=|_END=/, 'two ports are no range');
  });

  await t.test('an exec in a linking container gets the link variables (dockerd\'s exec environment); a stopped target leaves them out', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'svc-user', '--link', 'pair:p', 'busybox', 'sleep', '300']);
    const ip = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'pair'])).trim();
    const env = await dockerOk(d, ['exec', 'svc-user', 'env']);
    assert.match(env, new RegExp(`^P_PORT=tcp://${esc(ip)}:8000$`, 'm'), env);
    assert.match(env, /^P_NAME=\/svc-user\/p$/m, env);
    assert.equal(env.split('\n').filter((l) => l.startsWith('P_')).join('\n'), (await dockerOk(d, ['run', '--rm', '--link', 'pair:p', '--name', 'svc-user2', 'busybox', 'env'])).split('\n').filter((l) => l.startsWith('P_')).join('\n').replaceAll('/svc-user2/', '/svc-user/'), 'the same variables as the container\'s own process');
    await dockerOk(d, ['stop', '-t', '0', 'pair']);
    const after = await dockerOk(d, ['exec', 'svc-user', 'env']);
    assert.doesNotMatch(after, /^P_/m, after);
  });

  await t.test('a link target restarted with a new address: the running linker\'s /etc/hosts follows it', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'target', 'busybox', 'sleep', '300']);
    const before = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'target'])).trim();
    await dockerOk(d, ['run', '-d', '--name', 'linker', '--link', 'target:db', 'busybox', 'sleep', '300']);
    assert.match(await dockerOk(d, ['exec', 'linker', 'cat', '/etc/hosts']), new RegExp(`^${esc(before)}\\tdb `, 'm'));
    await dockerOk(d, ['stop', '-t', '0', 'target']);
    // Another container takes an address so the target's next one differs.
    await dockerOk(d, ['run', '-d', '--name', 'filler', 'busybox', 'sleep', '300']);
    await dockerOk(d, ['start', 'target']);
    const after = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'target'])).trim();
    assert.notEqual(after, before, 'the target has a new address');
    const hosts = await dockerOk(d, ['exec', 'linker', 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`^${esc(after)}\\tdb `, 'm'), hosts);
    assert.doesNotMatch(hosts, new RegExp(`^${esc(before)}\\t`, 'm'), hosts);
    // And the resolver inside the linker gives the new address (ping's first line names it;
    // the ping itself needs NET_RAW, which moat's exec does not have).
    const r = await docker(d, ['exec', 'linker', 'sh', '-c', 'ping -c 1 -W 1 db 2>&1 | head -1']);
    assert.match(r.stdout, new RegExp(`^PING db \\(${esc(after)}\\)`), r.stdout + r.stderr);
  });
});
