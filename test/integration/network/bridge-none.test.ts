// `moatd --bridge none`, as dockerd's `--bridge=none`: no default bridge network and no host
// interface for one; a default-mode container gets loopback only, user networks still work.
// Where dockerd takes a request and quietly does nothing (published ports) moat warns; where
// dockerd writes a broken /etc/hosts (`host-gateway` as `<nil>`, links with no address) moat
// refuses at create. A daemon that had a bridge drops it at the restart that says none, once
// no container uses it. Traffic: none (loopback connects to a port that must be closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { netavarkHash, sh } from '../../helpers/network.js';
import { docker, dockerOk } from '../compat/cli.js';

const lines = (s: string): string[] => s.trim().split('\n').filter((x) => x !== '');

function hostLinkNames(): string[] {
  return (JSON.parse(sh(['ip', '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname);
}

/** The interface names inside a fresh container run with `flags`. */
async function containerLinks(d: TestDaemon, flags: string[]): Promise<string[]> {
  const out = await dockerOk(d, ['run', '--rm', ...flags, 'busybox', 'sh', '-c', 'ls /sys/class/net']);
  return lines(out).flatMap((l) => l.split(/\s+/)).sort();
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

test('--bridge none: no default bridge; default-mode containers get loopback only; user networks work', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const hostLinksBefore = new Set(hostLinkNames());
  const d = await startDaemon({ defaultBridge: false });
  t.after(() => d.cleanup());

  await t.test('network ls has host and none only; bridge is not found; no host interface named none', async () => {
    assert.deepEqual(lines(await dockerOk(d, ['network', 'ls', '--format', '{{.Name}}'])).sort(), ['host', 'none']);
    const r = await docker(d, ['network', 'inspect', 'bridge']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /network bridge not found/);
    await dockerOk(d, ['run', '--rm', 'busybox', 'true']);
    const added = hostLinkNames().filter((n) => !hostLinksBefore.has(n));
    assert.deepEqual(added, [], 'a run on the default network made no host interface');
  });

  await t.test('default, bridge and unset NetworkMode: loopback only', async () => {
    assert.deepEqual(await containerLinks(d, []), ['lo']);
    assert.deepEqual(await containerLinks(d, ['--network', 'bridge']), ['lo']);
    assert.deepEqual(await containerLinks(d, ['--network', 'default']), ['lo']);
    const id = (await dockerOk(d, ['create', 'busybox', 'true'])).trim();
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.NetworkID}}/{{$v.IPAddress}} {{end}}', id])).trim(), 'default bridge=/', "dockerd's shape: an empty bridge entry");
    await dockerOk(d, ['rm', id]);
  });

  await t.test('published ports: taken with a warning, nothing listens', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const r = await docker(d, ['run', '-d', '--name', 'pub', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WARNING: Published ports are discarded: moatd runs without a default bridge/);
    assert.equal(await refused(port), true, `nothing listens on 127.0.0.1:${port}`);
    assert.equal((await dockerOk(d, ['port', 'pub'])).trim(), '');
    // --network none still refuses them, as Docker.
    const none = await docker(d, ['run', '--rm', '--network', 'none', '-p', `${port}:80`, 'busybox', 'true']);
    assert.equal(none.code, 125);
    assert.match(none.stderr, /conflicting options: port publishing and the container type network mode/);
  });

  await t.test('host-gateway and links are refused at create with exit 125, and nothing is created', async () => {
    const before = lines(await dockerOk(d, ['ps', '-aq'])).length;
    const gw = await docker(d, ['run', '--rm', '--add-host', 'gw:host-gateway', 'busybox', 'true']);
    assert.equal(gw.code, 125);
    assert.match(gw.stderr, /invalid argument "gw:host-gateway" for "--add-host" flag: unable to derive the IP value for host-gateway: moatd runs without a default bridge/);
    const link = await docker(d, ['run', '--rm', '--link', 'pub:p', 'busybox', 'true']);
    assert.equal(link.code, 125);
    assert.match(link.stderr, /conflicting options: links need the default bridge, and moatd runs without one \(--bridge none\)/);
    assert.equal(lines(await dockerOk(d, ['ps', '-aq'])).length, before);
  });

  await t.test('a user network: its own run, and connect of a stopped default-mode container; a running one is refused', async () => {
    await dockerOk(d, ['network', 'create', 'mine']);
    const subnet = (await dockerOk(d, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'mine'])).trim();
    const prefix = subnet.split('.').slice(0, 3).join('.');
    assert.deepEqual(await containerLinks(d, ['--network', 'mine']), ['eth0', 'lo']);
    await dockerOk(d, ['create', '--name', 'later', 'busybox', 'sleep', '300']);
    await dockerOk(d, ['network', 'connect', 'mine', 'later']);
    await dockerOk(d, ['start', 'later']);
    const addr = (await dockerOk(d, ['exec', 'later', 'sh', '-c', 'ip -o -4 addr show eth0'])).trim();
    assert.ok(addr.includes(`inet ${prefix}.`), addr);
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{index .NetworkSettings.Networks "mine" | json}}', 'later'])).includes(`"IPAddress":"${prefix}.`), true);
    const r = await docker(d, ['network', 'connect', 'mine', 'pub']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /was started with loopback only: stop it, connect it to mine, and start it again/);
    await dockerOk(d, ['rm', '-f', 'later', 'pub']);
  });

  await t.test('daemon flags: --bridge none with --bip is refused at start', async () => {
    await d.stop();
    await assert.rejects(d.start({ args: ['--bip', '10.250.0.1/24'] }), /--bridge none has no default bridge for --bip to configure/);
    await d.start({ args: [] });
  });
});

test('a restart with --bridge none drops the default bridge once no container uses it', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const tag = createHash('sha256').update(d.dataRoot).digest('hex').slice(0, 8);
  const anchor = `mta-${tag}`;
  const id = (await dockerOk(d, ['network', 'inspect', '-f', '{{.Id}}', 'bridge'])).trim();
  const guardComment = `moat:${tag}:${id.slice(0, 12)}`;
  const hash = netavarkHash(id);
  assert.ok(sh(['iptables-save']).includes(guardComment), 'the bridge has guard rules to begin with');

  await t.test('a container running on it keeps it across the restart', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'keeper', 'busybox', 'sleep', '300']);
    const ip = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'keeper'])).trim();
    assert.ok(ip.startsWith(`${d.bridgeSubnet.prefix}.`), ip);
    await d.kill();
    await d.start({ defaultBridge: false });
    assert.ok(lines(await dockerOk(d, ['network', 'ls', '--format', '{{.Name}}'])).includes('bridge'));
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{.State.Running}} {{.NetworkSettings.Networks.bridge.IPAddress}}', 'keeper'])).trim(), `true ${ip}`);
    assert.ok(hostLinkNames().includes(d.bridge));
  });

  await t.test('with the container gone, the next start removes the network, its bridge, idle port, chains and guard rules', async () => {
    await dockerOk(d, ['rm', '-f', 'keeper']);
    await d.kill();
    assert.ok(hostLinkNames().includes(d.bridge), 'after a kill -9 the bridge is still there');
    await d.start();
    assert.deepEqual(lines(await dockerOk(d, ['network', 'ls', '--format', '{{.Name}}'])).sort(), ['host', 'none']);
    const names = hostLinkNames();
    assert.equal(names.includes(d.bridge) || names.includes(anchor), false, names.join(' '));
    const rules = sh(['iptables-save']);
    assert.equal(rules.includes(guardComment), false, 'no guard rule of the old bridge');
    assert.equal(rules.includes(hash), false, "no netavark chain of the old bridge's network");
    assert.deepEqual(await containerLinks(d, []), ['lo']);
  });
});
