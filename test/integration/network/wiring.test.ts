// Networking through moatd and the docker CLI, on real containers: a published port
// fetched from the host, random ports and -P, a port in use, names and aliases on a user
// network, isolation between networks, --internal, --network none, connect/disconnect,
// network rm refused while in use, and kill -9 of moatd with a published port (restart: the
// port still answers; rm -f then leaves nothing). Traffic goes only to 127.0.0.1 and to
// this test's containers on the bridges its daemon made; containers use 127.0.0.1 as their
// upstream DNS so aardvark-dns never forwards a query off the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { freeSubnet, hostSnapshot, httpGet, netavarkHash, sh, snapshotDiff, type HostSnapshot, type Owned } from '../../helpers/network.js';
import { docker, dockerEnv, dockerOk } from '../compat/cli.js';

const HTTPD = ['busybox', 'httpd', '-f', '-p', '80', '-h', '/etc'];

/** The host port `docker port` names for the container's port 80. */
async function hostPortOf(d: TestDaemon, name: string): Promise<{ ip: string; port: number }> {
  const out = (await dockerOk(d, ['port', name, '80/tcp'])).trim().split('\n')[0]!;
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(out);
  assert.ok(m, `docker port printed ${JSON.stringify(out)}`);
  return { ip: m[1]!, port: Number(m[2]) };
}

/** GET /hostname until it answers (httpd needs a moment after start). */
async function fetchHostname(host: string, port: number): Promise<string> {
  let last = '';
  for (let i = 0; i < 30; i++) {
    const r = await httpGet(host, port, 2000, '/hostname');
    if (r.ok) return r.body.trim();
    last = r.error;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`http://${host}:${port}/hostname did not answer: ${last}`);
}

/** wget from inside a container: the body, or undefined when it cannot connect. */
async function wgetIn(d: TestDaemon, container: string, url: string): Promise<string | undefined> {
  const r = await docker(d, ['exec', container, 'timeout', '3', 'wget', '-q', '-O', '-', url], { timeoutMs: 15_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

async function ipOf(d: TestDaemon, container: string, network: string): Promise<string> {
  return (await dockerOk(d, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container])).trim();
}

function tagOf(d: TestDaemon): string {
  return createHash('sha256').update(d.dataRoot).digest('hex').slice(0, 8);
}

function leftovers(d: TestDaemon, before: HostSnapshot, bridges: string[], prefixes: string[], networkIds: string[]): { added: string[]; removed: string[] } {
  const owned: Owned = { bridges, prefixes, tags: [tagOf(d)], hashes: networkIds.map(netavarkHash) };
  return snapshotDiff(before, hostSnapshot(), owned);
}

test('networking through moatd and the docker CLI', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const before = hostSnapshot();
  const d = await startDaemon();
  const networkIds: string[] = [];
  const bridges = [d.bridge];
  const front = freeSubnet([d.bridgeSubnet.subnet]);
  const back = freeSubnet([d.bridgeSubnet.subnet, front.subnet]);
  const internal = freeSubnet([d.bridgeSubnet.subnet, front.subnet, back.subnet]);
  const prefixes = [`${d.bridgeSubnet.prefix}.`, `${front.prefix}.`, `${back.prefix}.`, `${internal.prefix}.`];
  t.after(() => d.cleanup());

  await t.test('a published port answers on 127.0.0.1 and is reported everywhere', async () => {
    const id = (await dockerOk(d, ['run', '-d', '--name', 'web', '-p', '80', ...HTTPD])).trim();
    const { ip, port } = await hostPortOf(d, 'web');
    assert.equal(ip, '127.0.0.1', 'no address named: moat binds loopback');
    assert.ok(port >= 1024, `a random port from the ephemeral range: ${port}`);
    assert.equal(await fetchHostname('127.0.0.1', port), id.slice(0, 12));
    const inspect = JSON.parse(await dockerOk(d, ['inspect', 'web']))[0];
    assert.deepEqual(inspect.NetworkSettings.Ports['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    assert.deepEqual(inspect.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '' }] });
    assert.match(inspect.NetworkSettings.Networks.bridge.IPAddress, new RegExp(`^${d.bridgeSubnet.prefix.replaceAll('.', '\\.')}\\.\\d+$`));
    assert.deepEqual(inspect.Security.Network.PublishedPorts, [`127.0.0.1:${port}->80/tcp`]);
    const ps = await dockerOk(d, ['ps', '--format', '{{.Names}} {{.Ports}}']);
    assert.match(ps, new RegExp(`^web 127\\.0\\.0\\.1:${port}->80/tcp$`, 'm'));
    const hosts = await dockerOk(d, ['exec', 'web', 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`^${inspect.NetworkSettings.Networks.bridge.IPAddress.replaceAll('.', '\\.')}\\t${id.slice(0, 12)}$`, 'm'), 'hosts names the container on its address');
    const routes = await dockerOk(d, ['exec', 'web', 'ip', 'route']);
    assert.match(routes, new RegExp(`^default via ${d.bridgeSubnet.prefix.replaceAll('.', '\\.')}\\.1 dev eth0`, 'm'));
  });

  await t.test('-P publishes the exposed ports on random loopback ports', async () => {
    const id = (await dockerOk(d, ['run', '-d', '--name', 'pall', '--expose', '80', '-P', ...HTTPD])).trim();
    const { ip, port } = await hostPortOf(d, 'pall');
    assert.equal(ip, '127.0.0.1');
    assert.equal(await fetchHostname('127.0.0.1', port), id.slice(0, 12));
    await dockerOk(d, ['rm', '-f', 'pall']);
    const r = await httpGet('127.0.0.1', port, 1000);
    assert.equal(r.ok, false, 'the port is gone with the container');
  });

  await t.test("-P publishes the ports the image EXPOSEs too (they were not merged in)", async () => {
    const built = await docker(d, ['build', '-q', '-t', 'exposes80', '-'], { input: 'FROM busybox\nEXPOSE 80\n', timeoutMs: 60_000 });
    assert.equal(built.code, 0, built.stderr);
    try {
      const id = (await dockerOk(d, ['run', '-d', '--name', 'pimg', '-P', 'exposes80', 'httpd', '-f', '-p', '80', '-h', '/etc'])).trim();
      assert.equal((await dockerOk(d, ['inspect', 'pimg', '--format', '{{json .Config.ExposedPorts}}'])).trim(), '{"80/tcp":{}}');
      const { ip, port } = await hostPortOf(d, 'pimg');
      assert.equal(ip, '127.0.0.1');
      assert.equal(await fetchHostname('127.0.0.1', port), id.slice(0, 12));
    } finally {
      // Also on a failure: a container left publishing a port would fail the later subtests.
      await docker(d, ['rm', '-f', 'pimg']);
      await docker(d, ['rmi', 'exposes80']);
    }
  });

  await t.test('a host port in use is a clear error at start and leaves nothing behind', async () => {
    const server = net.createServer();
    await new Promise<void>((res) => server.listen({ host: '127.0.0.1', port: 0 }, () => res()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await docker(d, ['run', '-d', '--name', 'clash', '-p', `${port}:80`, ...HTTPD]);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`));
      const id = (await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'clash'])).trim();
      assert.equal(sh(['iptables-save']).includes(id), false, 'no rule names the container');
      assert.equal(sh(['ip', 'netns', 'list']).includes(id.slice(0, 12)), false, 'no namespace kept');
    } finally {
      server.close();
    }
    // The same request without the conflict works (the port is free now).
    await dockerOk(d, ['start', 'clash']);
    assert.ok((await fetchHostname('127.0.0.1', port)).length > 0);
    await dockerOk(d, ['rm', '-f', 'clash']);
  });

  await t.test('a user network: names and aliases resolve, another network cannot reach in, connect and disconnect', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    networkIds.push((await dockerOk(d, ['network', 'create', '--subnet', front.subnet, 'front'])).trim());
    networkIds.push((await dockerOk(d, ['network', 'create', '--subnet', back.subnet, 'back'])).trim());
    for (const id of networkIds) bridges.push(`moatbr-${id.slice(0, 8)}`);
    const dns = ['--dns', '127.0.0.1'];
    const a = (await dockerOk(d, ['run', '-d', '--name', 'alpha', '--network', 'front', '--network-alias', 'web-alias', ...dns, ...HTTPD])).trim();
    await dockerOk(d, ['run', '-d', '--name', 'beta', '--network', 'front', ...dns, 'busybox', 'sleep', '300']);
    await dockerOk(d, ['run', '-d', '--name', 'gamma', '--network', 'back', ...dns, 'busybox', 'sleep', '300']);
    assert.equal(await wgetIn(d, 'beta', 'http://alpha/hostname'), a.slice(0, 12), 'by name');
    assert.equal(await wgetIn(d, 'beta', 'http://web-alias/hostname'), a.slice(0, 12), 'by alias');
    assert.equal(await wgetIn(d, 'beta', `http://${a.slice(0, 12)}/hostname`), a.slice(0, 12), 'by short id');
    const alphaIp = await ipOf(d, 'alpha', 'front');
    assert.ok(alphaIp.startsWith(`${front.prefix}.`), alphaIp);
    assert.equal(await wgetIn(d, 'gamma', `http://${alphaIp}/hostname`), undefined, 'a container on another network cannot reach it');
    const rm = await docker(d, ['network', 'rm', 'front']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /network front has active endpoints/);
    await dockerOk(d, ['network', 'connect', 'front', 'gamma']);
    assert.equal(await wgetIn(d, 'gamma', `http://${alphaIp}/hostname`), a.slice(0, 12), 'connected: reaches it');
    const inspect = JSON.parse(await dockerOk(d, ['network', 'inspect', 'front']))[0];
    assert.deepEqual(Object.values(inspect.Containers as Record<string, { Name: string }>).map((c) => c.Name).sort(), ['alpha', 'beta', 'gamma']);
    await dockerOk(d, ['network', 'disconnect', 'front', 'gamma']);
    assert.equal(await wgetIn(d, 'gamma', `http://${alphaIp}/hostname`), undefined, 'disconnected: cannot reach it again');
    const ls = await dockerOk(d, ['network', 'ls', '--filter', 'name=front', '--format', '{{.Name}}']);
    assert.equal(ls.trim(), 'front');
    const events = await dockerOk(d, ['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=network', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}']);
    const lines = events.trim().split('\n');
    assert.ok(lines.includes('create front <no value>'), events);
    assert.ok(lines.includes(`connect front ${a}`), `connect at start: ${events}`);
    const gammaId = (await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'gamma'])).trim();
    assert.ok(lines.includes(`connect front ${gammaId}`) && lines.includes(`disconnect front ${gammaId}`), `connect and disconnect at runtime: ${events}`);
  });

  await t.test('--internal has no route out; --network none has loopback only', async () => {
    networkIds.push((await dockerOk(d, ['network', 'create', '--internal', '--subnet', internal.subnet, 'inner'])).trim());
    bridges.push(`moatbr-${networkIds.at(-1)!.slice(0, 8)}`);
    const routes = await dockerOk(d, ['run', '--rm', '--network', 'inner', '--dns', '127.0.0.1', 'busybox', 'ip', 'route']);
    assert.doesNotMatch(routes, /^default/m);
    assert.match(routes, new RegExp(`^${internal.prefix.replaceAll('.', '\\.')}\\.0/24 dev eth0`, 'm'));
    const links = await dockerOk(d, ['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
    assert.deepEqual(links.trim().split('\n').map((l) => l.split(':')[1]!.trim()), ['lo']);
    const refused = await docker(d, ['run', '--rm', '--network', 'none', '-p', '80', 'busybox', 'true']);
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /conflicting options: port publishing and the container type network mode/);
    const missing = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'nosuchnet' } });
    assert.equal(missing.status, 404);
    assert.match(missing.json<{ message: string }>().message, /^network nosuchnet not found$/);
  });

  await t.test('--ip, --mac-address, --add-host host-gateway; prune removes unused networks with a destroy event', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const ip = `${back.prefix}.77`;
    const out = await dockerOk(d, ['run', '--rm', '--network', 'back', '--ip', ip, '--mac-address', '02:42:ac:11:00:77', '--add-host', 'gw:host-gateway', '--dns', '127.0.0.1', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; cat /sys/class/net/eth0/address; grep gw /etc/hosts']);
    assert.match(out, new RegExp(`inet ${ip.replaceAll('.', '\\.')}/24`));
    assert.match(out, /^02:42:ac:11:00:77$/m);
    assert.match(out, new RegExp(`^${d.bridgeSubnet.prefix.replaceAll('.', '\\.')}\\.1\\tgw$`, 'm'), 'host-gateway is the default bridge gateway');
    const outside = await docker(d, ['run', '--rm', '--network', 'back', '--ip', '10.99.0.5', 'busybox', 'true']);
    assert.equal(outside.code, 125, 'an address outside the subnet is refused');
    const spare = (await dockerOk(d, ['network', 'create', 'spare'])).trim();
    networkIds.push(spare);
    bridges.push(`moatbr-${spare.slice(0, 8)}`);
    // until= (a Go duration, as dockerd takes it): nothing here is an hour old.
    assert.doesNotMatch(await dockerOk(d, ['network', 'prune', '-f', '--filter', 'until=1h']), /spare/);
    const pruned = await dockerOk(d, ['network', 'prune', '-f']);
    assert.match(pruned, /^spare$/m);
    assert.match(pruned, /^inner$/m, 'the internal network no container uses goes too');
    assert.doesNotMatch(pruned, /^(front|back|bridge)$/m, 'networks in use stay');
    const events = await dockerOk(d, ['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=network', '--filter', 'event=destroy', '--format', '{{.Actor.ID}}']);
    assert.ok(events.split('\n').includes(spare), `destroy event: ${events}`);
  });

  await t.test('kill -9 of moatd: the published port still answers after the restart; rm -f then leaves nothing', async () => {
    const port = (await hostPortOf(d, 'web')).port;
    await d.kill();
    await d.start();
    const id = (await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'web'])).trim();
    assert.equal(await fetchHostname('127.0.0.1', port), id.slice(0, 12), 'answers after the restart');
    assert.equal((await hostPortOf(d, 'web')).port, port, 'still reported');
    await dockerOk(d, ['rm', '-f', 'web', 'alpha', 'beta', 'gamma']);
    for (const n of ['front', 'back']) await dockerOk(d, ['network', 'rm', n]);
    assert.equal(sh(['iptables-save']).includes(id), false, 'no rule names the container');
    const left = leftovers(d, before, bridges, prefixes.slice(1), networkIds);
    // The default bridge's guard rules stay while the daemon runs (they go with cleanup), and
    // so does the bridge itself, held by moat's idle port and nothing else.
    const held = (l: string): boolean => l.includes(`moat:${tagOf(d)}:`) || l === `link ${d.bridge}` || l.startsWith(`addr ${d.bridge} `) || l === `link mta-${tagOf(d)}`;
    assert.deepEqual(left.added.filter((l) => !held(l)), [], 'no link, address or rule of a container or user network is left');
    const onBridge = (JSON.parse(sh(['ip', '-j', 'link', 'show', 'master', d.bridge])) as Array<{ ifname: string }>).map((l) => l.ifname);
    assert.deepEqual(onBridge, [`mta-${tagOf(d)}`], 'no container port on the default bridge');
    assert.deepEqual(left.removed, []);
  });

  await d.cleanup();
  const after = leftovers(d, before, bridges, prefixes, networkIds);
  assert.deepEqual(after, { added: [], removed: [] }, 'the test daemon left nothing on the host');
});

test('with --userns-remap: the bridge, a published port and a user network work; nothing is left', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const before = hostSnapshot();
  const d = await startDaemon({ args: ['--userns-remap', 'default'] });
  const sub = freeSubnet([d.bridgeSubnet.subnet]);
  let netId = '';
  try {
    const id = (await dockerOk(d, ['run', '-d', '--name', 'web', '-p', '80', ...HTTPD])).trim();
    const { port } = await hostPortOf(d, 'web');
    assert.equal(await fetchHostname('127.0.0.1', port), id.slice(0, 12));
    netId = (await dockerOk(d, ['network', 'create', '--subnet', sub.subnet, 'remapped'])).trim();
    const out = await dockerOk(d, ['run', '--rm', '--network', 'remapped', '--dns', '127.0.0.1', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; cat /proc/self/uid_map']);
    assert.match(out, new RegExp(`inet ${sub.prefix.replaceAll('.', '\\.')}\\.2/24`));
    assert.doesNotMatch(out, /^\s+0\s+0\s/m, 'root in the container is not root on the host');
    await dockerOk(d, ['rm', '-f', 'web']);
    await dockerOk(d, ['network', 'rm', 'remapped']);
  } finally {
    await d.cleanup();
  }
  const owned: Owned = { bridges: [d.bridge, `moatbr-${netId.slice(0, 8)}`], prefixes: [`${d.bridgeSubnet.prefix}.`, `${sub.prefix}.`], tags: [], hashes: netId ? [netavarkHash(netId)] : [] };
  assert.deepEqual(snapshotDiff(before, hostSnapshot(), owned), { added: [], removed: [] });
});

test('docker-compose 1.29: two services on the project network talk by service name; down removes everything', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox', 'docker-compose')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const dir = join(d.root, 'project');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    ['version: "3.7"', 'services:', '  web:', '    image: busybox', '    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]', '    dns: 127.0.0.1', '  client:', '    image: busybox', '    command: ["sleep", "300"]', '    dns: 127.0.0.1', ''].join('\n'),
  );
  const compose = (args: string[]): { code: number; out: string } => {
    const r = spawnSync('/usr/bin/docker-compose', ['-p', 'mtc', ...args], { cwd: dir, env: dockerEnv(d), encoding: 'utf8', timeout: 120_000 });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  const up = compose(['up', '-d']);
  assert.equal(up.code, 0, up.out);
  const webId = (await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'mtc_web_1'])).trim();
  assert.equal(await wgetIn(d, 'mtc_client_1', 'http://web/hostname'), webId.slice(0, 12), 'the client reaches web by its service name');
  const down = compose(['down']);
  assert.equal(down.code, 0, down.out);
  assert.equal((await dockerOk(d, ['ps', '-aq'])).trim(), '', 'no container left');
  assert.equal((await dockerOk(d, ['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}'])).trim(), '', 'the project network is gone');
});
