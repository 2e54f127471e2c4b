// SIGKILL of the process that owns the network driver (moatd) with a published port: a new
// driver on the same roots keeps the container's networking (the port still answers and is
// held again), and when the container is gone, even with its namespace gone too, restore
// removes everything netavark and moat made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { requires } from '../../helpers/requires.js';
import { eventually, freeSubnet, hostSnapshot, httpGet, makeNetns, netavarkHash, sh, snapshotDiff, uniqueName, type Owned } from '../../helpers/network.js';
import type { NetworkDriver as Driver } from '../../../src/network/index.js';

/** What a driver of this test made (its networks' bridges, hashes and tag, the given subnets). */
function ownedBy(d: Driver, subnets: Array<{ prefix: string }>, extra: { bridges?: string[]; ids?: string[] } = {}): Owned {
  const nets = d.listNetworks();
  return {
    bridges: [...nets.map((n) => n.bridge), ...(extra.bridges ?? [])],
    prefixes: subnets.map((s) => `${s.prefix}.`),
    tags: [d.tag],
    hashes: [...nets.map((n) => n.id), ...(extra.ids ?? [])].map(netavarkHash),
  };
}
import { newId, silentLogger } from '../../../src/base/index.js';
import { NetworkDriver, checkNetworkCreate, type EndpointRecord } from '../../../src/network/index.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), '../../helpers/network-child.js');

function portHeld(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE'));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(false)));
  });
}

test('restore after SIGKILL keeps a running container\'s port and cleans up a dead one', async (t) => {
  if (!requires(t, 'root', 'netavark', 'busybox')) return;
  const before = hostSnapshot();
  const root = mkdtempSync('/tmp/mtnet-');
  const subnet = freeSubnet();
  const bridge = uniqueName('mtb');
  const roots = { dataRoot: join(root, 'data'), execRoot: join(root, 'exec') };
  const ns = makeNetns();
  let driver: NetworkDriver | undefined;
  t.after(async () => {
    if (driver !== undefined) {
      const problems = await driver.removeAll();
      if (problems.length > 0) t.diagnostic(`cleanup: ${problems.join('; ')}`);
      await driver.close();
    }
    ns.remove();
    rmSync(root, { recursive: true, force: true });
  });
  ns.serve('still here');
  // The "container": the httpd process in the namespace; the driver names its namespace by pid.
  let httpdPid = 0;
  await eventually('httpd to run in the namespace', () => {
    httpdPid = Number(sh(['ip', 'netns', 'pids', ns.name]).trim().split('\n')[0] || 0);
    return httpdPid > 1;
  });
  const containerId = newId();

  const child = spawn(process.execPath, [CHILD, JSON.stringify({ ...roots, bridge, bip: `${subnet.prefix}.1/24`, containerId, pid: httpdPid })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`driver child exited with ${code}`)));
  });
  const endpoint = JSON.parse(line) as EndpointRecord;
  const port = endpoint.ports[0]!.hostPort;
  const ip = endpoint.attachments[0]!.ip;
  assert.equal(endpoint.netnsName, `moat-${endpoint.netnsName!.split('-')[1]}-${containerId.slice(0, 12)}`);
  await eventually('the published port', async () => (await httpGet('127.0.0.1', port)).ok);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  await t.test('after the kill the port still answers (DNAT rules stay) but nothing holds it', async () => {
    assert.deepEqual(await httpGet('127.0.0.1', port), { ok: true, body: 'still here' });
    assert.equal(await portHeld(port), false);
  });

  await t.test('a new driver keeps the running container and holds its port again', async () => {
    driver = await NetworkDriver.open({ ...roots, log: silentLogger(), defaultBridge: { name: bridge, bip: `${subnet.prefix}.1/24`, icc: false }, defaultHostIp: '127.0.0.1' });
    const report = await driver.restore(new Set([containerId]));
    assert.deepEqual(report.kept, [containerId]);
    assert.deepEqual(report.problems, []);
    assert.equal(await portHeld(port), true);
    assert.deepEqual(await httpGet('127.0.0.1', port), { ok: true, body: 'still here' });
    assert.equal(driver.endpoint(containerId)?.attachments[0]!.ip, ip);
  });

  await t.test('when the container died and its namespace is gone, restore removes every rule, link and address', async () => {
    // As if the container exited and the host lost the named namespace (the bind mount) too.
    sh(['ip', 'netns', 'delete', endpoint.netnsName!]);
    ns.remove();
    const report = await driver!.restore(new Set());
    assert.deepEqual(report.torndown, [containerId]);
    assert.deepEqual(report.problems, []);
    assert.equal(driver!.endpoint(containerId), undefined);
    assert.equal(await portHeld(port), false, 'the port is free again');
    assert.notEqual((await httpGet('127.0.0.1', port, 1000)).ok, true, 'and no longer forwarded');
    assert.equal(sh(['iptables-save']).includes(containerId), false, 'no rule names the container');
    // The default bridge stays while a driver runs: only moat's idle port is on it.
    assert.deepEqual(sh(['ip', '-o', 'link', 'show', 'master', bridge]).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim()), [driver!.anchorName], 'only the idle port holds the bridge');
    const own = ownedBy(driver!, [subnet]);
    assert.deepEqual(await driver!.removeAll(), []);
    assert.deepEqual(snapshotDiff(before, hostSnapshot(), own), { added: [], removed: [] });
  });
});

test('aardvark-dns: restarted at restore when it died; a stale pid file never gets an unrelated process signalled', async (t) => {
  if (!requires(t, 'root', 'netavark', 'busybox')) return;
  const before = hostSnapshot();
  const root = mkdtempSync('/tmp/mtnet-');
  const bridgeSubnet = freeSubnet();
  const subnet = freeSubnet([bridgeSubnet.subnet]);
  const opts = { dataRoot: join(root, 'data'), execRoot: join(root, 'exec'), log: silentLogger(), defaultBridge: { name: uniqueName('mtb'), bip: `${bridgeSubnet.prefix}.1/24`, icc: false }, defaultHostIp: '127.0.0.1' };
  const driver = await NetworkDriver.open(opts);
  const spaces = [makeNetns(), makeNetns()];
  const bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.after(async () => {
    bystander.kill('SIGKILL');
    await driver.removeAll();
    await driver.close();
    for (const s of spaces) s.remove();
    rmSync(root, { recursive: true, force: true });
  });
  await driver.restore(new Set());
  const n = await driver.createNetwork(checkNetworkCreate({ Name: uniqueName('dns-'), IPAM: { Config: [{ Subnet: subnet.subnet }] } }));
  const ids = [newId(), newId()];
  await driver.prepare({ containerId: ids[0]!, containerName: 'first', networks: [{ network: n.name }], ports: [], dns: ['127.0.0.1'] });
  await driver.attach(ids[0]!, { existing: spaces[0]!.name });
  const lookup = (): string => spaces[0]!.run(['busybox', 'nslookup', 'first', `${subnet.prefix}.1`], 12_000).stdout;
  assert.match(lookup(), new RegExp(`Address: ${subnet.prefix.replaceAll('.', '\\.')}\\.2`));

  const pid1 = await driver.netavark.aardvarkPid();
  assert.ok(pid1 !== undefined);
  process.kill(pid1, 'SIGKILL');
  await eventually('aardvark-dns to die', async () => (await driver.netavark.aardvarkPid()) === undefined);
  const report = await driver.restore(new Set(ids.slice(0, 1)));
  assert.deepEqual(report.problems, []);
  const pid2 = await driver.netavark.aardvarkPid();
  assert.ok(pid2 !== undefined && pid2 !== pid1, 'a new aardvark-dns');
  assert.match(lookup(), new RegExp(`Address: ${subnet.prefix.replaceAll('.', '\\.')}\\.2`), 'names resolve again');

  // The pid file names an unrelated live process (pid reuse): netavark would SIGHUP it.
  process.kill(pid2, 'SIGKILL');
  await eventually('aardvark-dns to die', async () => (await driver.netavark.aardvarkPid()) === undefined);
  writeFileSync(join(driver.netavark.aardvarkDir, 'aardvark.pid'), String(bystander.pid));
  await driver.prepare({ containerId: ids[1]!, containerName: 'second', networks: [{ network: n.name }], ports: [], dns: ['127.0.0.1'] });
  await driver.attach(ids[1]!, { existing: spaces[1]!.name });
  assert.equal(bystander.exitCode, null, 'the bystander was not signalled');
  assert.equal(bystander.signalCode, null);
  assert.ok((await driver.netavark.aardvarkPid()) !== undefined, 'netavark started a new aardvark-dns');
  for (const id of ids) await driver.release(id);
  const own = ownedBy(driver, [bridgeSubnet, subnet]);
  assert.deepEqual(await driver.removeAll(), []);
  await eventually('aardvark-dns to exit', async () => (await driver.netavark.aardvarkPid()) === undefined);
  assert.deepEqual(snapshotDiff(before, hostSnapshot(), own), { added: [], removed: [] });
});

test('a teardown interrupted after netavark finished (crash during release) completes at the next try', async (t) => {
  if (!requires(t, 'root', 'netavark')) return;
  const before = hostSnapshot();
  const root = mkdtempSync('/tmp/mtnet-');
  const subnet = freeSubnet();
  const driver = await NetworkDriver.open({ dataRoot: join(root, 'data'), execRoot: join(root, 'exec'), log: silentLogger(), defaultBridge: { name: uniqueName('mtb'), bip: `${subnet.prefix}.1/24`, icc: false }, defaultHostIp: '127.0.0.1' });
  const ns = makeNetns();
  t.after(async () => {
    await driver.removeAll();
    await driver.close();
    ns.remove();
    rmSync(root, { recursive: true, force: true });
  });
  await driver.restore(new Set());
  const id = newId();
  await driver.prepare({ containerId: id, containerName: 'halfway', networks: [{ network: 'bridge' }], ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPortFirst: 0, hostPortLast: 0 }], dns: [] });
  const e = await driver.attach(id, { existing: ns.name });
  // netavark's own teardown ran (as in a release killed right after it); moat's record stays.
  sh(['/usr/lib/podman/netavark', '--config', join(root, 'exec', 'network'), 'teardown', `/run/netns/${ns.name}`], JSON.stringify(e.attachments[0]!.netavarkConfig));
  assert.throws(
    () => sh(['/usr/lib/podman/netavark', '--config', join(root, 'exec', 'network'), 'teardown', `/run/netns/${ns.name}`], JSON.stringify(e.attachments[0]!.netavarkConfig)),
    (err: unknown) => /failed to delete container veth/.test(String((err as { stdout?: string }).stdout)),
    'a second netavark teardown fails for good',
  );
  await driver.release(id);
  assert.equal(driver.endpoint(id), undefined);
  const own = ownedBy(driver, [subnet]);
  assert.deepEqual(await driver.removeAll(), []);
  assert.deepEqual(snapshotDiff(before, hostSnapshot(), own), { added: [], removed: [] });
});

test('validate: a bad network request is refused at create, without allocating', async (t) => {
  if (!requires(t, 'root', 'netavark')) return;
  const root = mkdtempSync('/tmp/mtnet-');
  const subnet = freeSubnet();
  const user = freeSubnet([subnet.subnet]);
  const driver = await NetworkDriver.open({ dataRoot: join(root, 'data'), execRoot: join(root, 'exec'), log: silentLogger(), defaultBridge: { name: uniqueName('mtb'), bip: `${subnet.prefix}.1/24`, icc: false }, defaultHostIp: '127.0.0.1' });
  t.after(async () => {
    await driver.removeAll();
    rmSync(root, { recursive: true, force: true });
  });
  const n = await driver.createNetwork(checkNetworkCreate({ Name: uniqueName('v-'), IPAM: { Config: [{ Subnet: user.subnet }] } }));
  const base = { containerName: 'ok', ports: [], dns: [] };
  driver.validate({ ...base, networks: [{ network: n.name, aliases: ['db'], ipv4Address: `${user.prefix}.9`, macAddress: '02:42:00:00:00:09' }] });
  assert.throws(() => driver.validate({ ...base, networks: [{ network: 'nosuch' }] }), /network nosuch not found/);
  assert.throws(() => driver.validate({ ...base, networks: [{ network: 'bridge', ipv4Address: `${subnet.prefix}.9` }] }), /user configured subnets/);
  assert.throws(() => driver.validate({ ...base, networks: [{ network: 'bridge', aliases: ['x'] }] }), /only supported for user-defined networks/);
  assert.throws(() => driver.validate({ ...base, networks: [{ network: n.name, ipv4Address: '10.9.9.9' }] }), /no configured subnet/);
  assert.throws(() => driver.validate({ ...base, networks: [{ network: n.name, aliases: ['a b'] }] }), /invalid network alias/);
  assert.throws(() => driver.validate({ ...base, dns: ['nope'], networks: [{ network: n.name }] }), /invalid DNS server/);
  assert.throws(() => driver.validate({ ...base, networks: [{ network: n.name }, { network: n.id }] }), /twice/);
});

test('restore removes what this moat left without a record: a named namespace and a deleted network\'s guard rules', async (t) => {
  if (!requires(t, 'root', 'netavark')) return;
  const before = hostSnapshot();
  const root = mkdtempSync('/tmp/mtnet-');
  const subnet = freeSubnet();
  const opts = { dataRoot: join(root, 'data'), execRoot: join(root, 'exec'), log: silentLogger(), defaultBridge: { name: uniqueName('mtb'), bip: `${subnet.prefix}.1/24`, icc: false }, defaultHostIp: '127.0.0.1' };
  const first = await NetworkDriver.open(opts);
  t.after(async () => {
    await first.removeAll();
    rmSync(root, { recursive: true, force: true });
  });
  await first.restore(new Set());
  const orphan = first.netnsNameFor(newId());
  sh(['ip', 'netns', 'add', orphan]);
  // A guard rule whose network has no record (as after a crash between record and rules).
  sh(['iptables', '-w', '-t', 'mangle', '-I', 'FORWARD', '1', '-o', 'mtorphan0', '-m', 'comment', '--comment', `moat:${first.tag}:0123456789ab`, '-j', 'DROP']);
  const report = await first.restore(new Set());
  assert.deepEqual(report.orphanNetns, [orphan]);
  assert.equal(report.orphanRules, 1);
  assert.equal(sh(['ip', 'netns', 'list']).includes(orphan), false);
  const own = ownedBy(first, [subnet], { bridges: ['mtorphan0'] });
  assert.deepEqual(await first.removeAll(), []);
  assert.deepEqual(snapshotDiff(before, hostSnapshot(), own), { added: [], removed: [] });
});

test('a crash after prepare made the container\'s namespace (runc create and netavark not done): restore removes the namespace and the record', async (t) => {
  if (!requires(t, 'root', 'netavark')) return;
  const before = hostSnapshot();
  const root = mkdtempSync('/tmp/mtnet-');
  const subnet = freeSubnet();
  const opts = { dataRoot: join(root, 'data'), execRoot: join(root, 'exec'), log: silentLogger(), defaultBridge: { name: uniqueName('mtb'), bip: `${subnet.prefix}.1/24`, icc: false }, defaultHostIp: '127.0.0.1' };
  const crashed = await NetworkDriver.open(opts);
  await crashed.restore(new Set());
  let driver: NetworkDriver | undefined;
  const containerId = newId();
  const name = crashed.netnsNameFor(containerId);
  t.after(async () => {
    if (driver !== undefined) {
      await driver.removeAll();
      await driver.close();
    }
    if (sh(['ip', 'netns', 'list']).includes(name)) sh(['ip', 'netns', 'delete', name]);
    rmSync(root, { recursive: true, force: true });
  });
  const { netnsPath } = await crashed.prepare({ containerId, containerName: 'early', networks: [{ network: 'bridge' }], ports: [], dns: [], ownNetns: true });
  assert.equal(netnsPath, `/run/netns/${name}`);
  assert.ok(sh(['ip', 'netns', 'list']).includes(name), 'the namespace exists before any runtime call');
  // `crashed` is dropped as a SIGKILLed moatd would be: no release, no close.
  driver = await NetworkDriver.open(opts);
  assert.equal(driver.endpoint(containerId)?.netnsName, name, 'the record named the namespace before it was made');
  const report = await driver.restore(new Set());
  assert.deepEqual(report.torndown, [containerId]);
  assert.deepEqual(report.problems, []);
  assert.equal(sh(['ip', 'netns', 'list']).includes(name), false, 'the namespace is gone');
  assert.equal(driver.endpoint(containerId), undefined, 'the record is gone');
  // A namespace of that name that no record names (a cleanup that failed) does not block the next start.
  sh(['ip', 'netns', 'add', name]);
  await driver.prepare({ containerId, containerName: 'early', networks: [{ network: 'bridge' }], ports: [], dns: [], ownNetns: true });
  assert.ok(sh(['ip', 'netns', 'list']).includes(name));
  await driver.release(containerId);
  assert.equal(sh(['ip', 'netns', 'list']).includes(name), false, 'released with the endpoint');
  await driver.removeAll();
  await driver.close();
  driver = undefined;
  assert.deepEqual(snapshotDiff(before, hostSnapshot(), { bridges: [opts.defaultBridge.name], prefixes: [`${subnet.prefix}.`], tags: [], hashes: [] }), { added: [], removed: [] });
});
