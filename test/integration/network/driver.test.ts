// The network driver on real network namespaces, with Debian's netavark 1.4 and
// aardvark-dns 1.4: published ports, icc=false on the default bridge, DNS on a user
// network, isolation between networks, an internal network, connect/disconnect, a port
// already in use, and a teardown that leaves nothing behind. Every namespace, bridge and
// subnet is unique to this run; traffic goes only to 127.0.0.1 and to this test's own
// namespaces and bridges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { eventually, freeSubnet, hostSnapshot, httpGet, makeNetns, netavarkHash, sh, snapshotDiff, uniqueName, type Owned, type TestNetns } from '../../helpers/network.js';
import { EngineError, newId, shortId, silentLogger } from '../../../src/base/index.js';
import { NetworkDriver, checkNetworkCreate, planPortRequests } from '../../../src/network/index.js';

function listensOn(port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

function lookup(ns: TestNetns, name: string, server?: string): string[] {
  const r = ns.run(['busybox', 'nslookup', name, ...(server !== undefined ? [server] : [])], 12_000);
  if (r.code !== 0) return [];
  return [...r.stdout.matchAll(/^Address: (\d+\.\d+\.\d+\.\d+)$/gm)].map((m) => m[1]!);
}

function curl(ns: TestNetns, url: string): { code: number; stdout: string } {
  return ns.run(['curl', '-sS', '-m', '2', url], 5000);
}

test('network driver on real namespaces (netavark 1.4, aardvark-dns 1.4)', async (t) => {
  if (!requires(t, 'root', 'netavark', 'busybox', 'curl')) return;
  const before = hostSnapshot();
  const root = mkdtempSync('/tmp/mtnet-');
  const bridgeSubnet = freeSubnet();
  const frontSubnet = freeSubnet([bridgeSubnet.subnet]);
  const backSubnet = freeSubnet([bridgeSubnet.subnet, frontSubnet.subnet]);
  const internalSubnet = freeSubnet([bridgeSubnet.subnet, frontSubnet.subnet, backSubnet.subnet]);
  const bridgeName = uniqueName('mtb');
  const driver = await NetworkDriver.open({
    dataRoot: join(root, 'data'),
    execRoot: join(root, 'exec'),
    log: silentLogger(),
    defaultBridge: { name: bridgeName, bip: `${bridgeSubnet.prefix}.1/24`, icc: false },
    defaultHostIp: '127.0.0.1',
  });
  await driver.restore(new Set());
  const seen = new Map<string, string>();
  /** What this test made, for the leftovers check (other worktrees change the host too). */
  const owned = (): Owned => {
    for (const n of driver.listNetworks()) seen.set(n.id, n.bridge);
    return {
      bridges: [...seen.values()],
      prefixes: [bridgeSubnet, frontSubnet, backSubnet, internalSubnet].map((s) => `${s.prefix}.`),
      tags: [driver.tag],
      hashes: [...seen.keys()].map(netavarkHash),
    };
  };
  const spaces: TestNetns[] = [];
  const containers: string[] = [];
  const newNs = (): TestNetns => {
    const n = makeNetns();
    spaces.push(n);
    return n;
  };
  /** Prepare and attach one "container" (a namespace) through the driver. */
  const attach = async (ns: TestNetns, name: string, networks: Array<{ network: string; aliases?: string[]; ipv4Address?: string }>, ports: ReturnType<typeof planPortRequests> = []) => {
    const id = newId();
    containers.push(id);
    // A miss in aardvark-dns goes to the container's upstream: keep it on loopback.
    const prepared = await driver.prepare({ containerId: id, containerName: name, networks, ports, dns: ['127.0.0.1'] });
    const endpoint = await driver.attach(id, { existing: ns.name });
    return { id, endpoint, warnings: prepared.warnings };
  };
  t.after(async () => {
    const problems = await driver.removeAll();
    if (problems.length > 0) t.diagnostic(`cleanup: ${problems.join('; ')}`);
    await driver.close();
    for (const s of spaces) s.remove();
    rmSync(root, { recursive: true, force: true });
  });

  const a = newNs();
  const b = newNs();
  a.serve('hello from a');
  b.serve('hello from b');
  let aIp = '';
  let bIp = '';

  await t.test('a published port answers on 127.0.0.1 from the host, and moat holds the host port', async () => {
    const ports = planPortRequests({ portBindings: { '80/tcp': [{ HostIp: '', HostPort: '' }] }, defaultHostIp: '127.0.0.1' });
    const t0 = Date.now();
    const ca = await attach(a, 'web-a', [{ network: 'bridge' }], ports);
    t.diagnostic(`prepare+attach on the default bridge with one published port: ${Date.now() - t0} ms`);
    aIp = ca.endpoint.attachments[0]!.ip;
    assert.ok(aIp.startsWith(`${bridgeSubnet.prefix}.`), aIp);
    const mapping = ca.endpoint.ports[0]!;
    assert.equal(mapping.hostIp, '127.0.0.1');
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    assert.ok(mapping.hostPort >= lo! && mapping.hostPort <= hi!, `random port ${mapping.hostPort} from the ephemeral range ${lo}-${hi}`);
    await eventually('httpd in a', async () => (await httpGet(aIp, 80)).ok);
    const got = await httpGet('127.0.0.1', mapping.hostPort);
    assert.deepEqual(got, { ok: true, body: 'hello from a' });
    assert.equal((await listensOn(mapping.hostPort))?.code, 'EADDRINUSE', 'the host port is held while published');
    assert.match(ca.endpoint.attachments[0]!.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  });

  await t.test('icc=false: two containers on the default bridge cannot reach each other; the host reaches both', async () => {
    const cb = await attach(b, 'web-b', [{ network: 'bridge' }]);
    bIp = cb.endpoint.attachments[0]!.ip;
    await eventually('httpd in b', async () => (await httpGet(bIp, 80)).ok);
    assert.notEqual(curl(b, `http://${aIp}/`).code, 0, 'b cannot reach a');
    assert.notEqual(curl(a, `http://${bIp}/`).code, 0, 'a cannot reach b');
    assert.deepEqual(await httpGet(aIp, 80), { ok: true, body: 'hello from a' });
  });

  let frontId = '';
  let c: TestNetns;
  let cId = '';
  let cIp = '';
  await t.test('a user network: members reach each other by IP and resolve names, aliases and short ids via aardvark-dns', async () => {
    const front = await driver.createNetwork(checkNetworkCreate({ Name: uniqueName('front-'), IPAM: { Config: [{ Subnet: frontSubnet.subnet }] } }));
    frontId = front.id;
    c = newNs();
    const d = newNs();
    c.serve('hello from c');
    const cc = await attach(c, 'db', [{ network: front.name, aliases: ['database'], ipv4Address: `${frontSubnet.prefix}.50` }]);
    cId = cc.id;
    cIp = cc.endpoint.attachments[0]!.ip;
    assert.equal(cIp, `${frontSubnet.prefix}.50`, 'static address');
    const cd = await attach(d, 'app', [{ network: front.name }]);
    const files = await driver.containerFiles({ containerId: cd.id, hostname: 'app', dns: ['127.0.0.1'] });
    assert.match(files.resolvConf, new RegExp(`^nameserver ${frontSubnet.prefix.replaceAll('.', '\\.')}\\.1$`, 'm'));
    assert.match(files.hosts, new RegExp(`^${cd.endpoint.attachments[0]!.ip.replaceAll('.', '\\.')}\\tapp$`, 'm'));
    d.setResolvConf(files.resolvConf);
    await eventually('httpd in c', async () => (await httpGet(cIp, 80)).ok);
    assert.equal(curl(d, `http://${cIp}/`).stdout, 'hello from c', 'd reaches c by IP');
    assert.deepEqual(lookup(d, 'db'), [cIp], 'name');
    assert.deepEqual(lookup(d, 'database'), [cIp], 'alias');
    assert.deepEqual(lookup(d, shortId(cc.id)), [cIp], 'short id');
    assert.equal(curl(d, 'http://db/').stdout, 'hello from c', 'd reaches c by name');
  });

  await t.test('a container on another network can neither reach nor resolve them; a port published on every address still answers', async () => {
    const back = await driver.createNetwork(checkNetworkCreate({ Name: uniqueName('back-'), IPAM: { Config: [{ Subnet: backSubnet.subnet }] } }));
    const e = newNs();
    await attach(e, 'outsider', [{ network: back.name }]);
    assert.notEqual(curl(e, `http://${cIp}/`).code, 0, 'e cannot open a connection to c');
    assert.deepEqual(lookup(e, 'db', `${frontSubnet.prefix}.1`), [], "front's DNS does not answer e");
    assert.deepEqual(lookup(e, 'db'), [], "e's own DNS does not know db");
    // Published ports are the way in (Docker's rule); 0.0.0.0 includes e's gateway address.
    const p = newNs();
    p.serve('hello from p');
    const pub = await attach(p, 'pub', [{ network: frontId }], planPortRequests({ portBindings: { '80/tcp': [{ HostIp: '0.0.0.0' }] }, defaultHostIp: '127.0.0.1' }));
    const port = pub.endpoint.ports[0]!.hostPort;
    await eventually('httpd in p', async () => (await httpGet(pub.endpoint.attachments[0]!.ip, 80)).ok);
    assert.equal(curl(e, `http://${backSubnet.prefix}.1:${port}/`).stdout, 'hello from p', 'e reaches the published port through its gateway');
    assert.deepEqual(await httpGet('127.0.0.1', port), { ok: true, body: 'hello from p' }, 'and the host through 127.0.0.1');
  });

  await t.test('an internal network has no route out, no NAT rule and no published port', async () => {
    const internal = await driver.createNetwork(checkNetworkCreate({ Name: uniqueName('int-'), Internal: true, IPAM: { Config: [{ Subnet: internalSubnet.subnet }] } }));
    const f = newNs();
    const cf = await attach(f, 'walled', [{ network: internal.name }], planPortRequests({ portBindings: { '80/tcp': [{}] }, defaultHostIp: '127.0.0.1' }));
    assert.deepEqual(cf.warnings, ['published ports are ignored: the container is only on internal networks']);
    assert.deepEqual(cf.endpoint.ports, []);
    const routes = f.run(['ip', '-4', 'route', 'show']).stdout;
    assert.doesNotMatch(routes, /default/, routes);
    assert.match(routes, new RegExp(internalSubnet.subnet.replaceAll('.', '\\.')));
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${internal.bridge}/forwarding`, 'utf8').trim(), '0', 'the bridge does not forward');
    const rules = sh(['iptables-save']);
    assert.doesNotMatch(rules, new RegExp(`-s ${internalSubnet.subnet.replaceAll('.', '\\.')}`), 'no masquerade for the internal subnet');
  });

  await t.test('connect and disconnect at runtime add and remove an interface', async () => {
    const att = await driver.connect(containers[0]!, { network: frontId, aliases: ['web-alias'] });
    assert.equal(att.interfaceName, 'eth1');
    assert.match(a.run(['ip', '-4', '-o', 'addr', 'show', 'eth1']).stdout, new RegExp(att.ip.replaceAll('.', '\\.')));
    await assert.rejects(driver.connect(containers[0]!, { network: frontId }), /already exists in network/);
    await driver.disconnect(containers[0]!, frontId);
    assert.notEqual(a.run(['ip', 'link', 'show', 'eth1']).code, 0, 'eth1 is gone');
  });

  await t.test('a host port already in use is a clear error and leaves nothing behind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      const g = newNs();
      const id = newId();
      const snap = hostSnapshot();
      await assert.rejects(
        driver.prepare({ containerId: id, containerName: 'late', networks: [{ network: 'bridge' }], ports: planPortRequests({ portBindings: { '80/tcp': [{ HostPort: String(busy) }] }, defaultHostIp: '127.0.0.1' }), dns: [] }),
        (err: unknown) => err instanceof EngineError && err.kind === 'conflict' && err.message === `Bind for 127.0.0.1:${busy} failed: port is already allocated`,
      );
      assert.equal(driver.endpoint(id), undefined, 'no endpoint record');
      assert.deepEqual(snapshotDiff(snap, hostSnapshot(), owned()), { added: [], removed: [] });
      assert.equal(g.run(['ip', '-o', 'link']).stdout.split('\n').filter(Boolean).length, 1, 'only lo in the namespace');
    } finally {
      blocker.close();
    }
  });

  await t.test('a network with containers cannot be removed; the default bridge never', async () => {
    await assert.rejects(driver.removeNetwork(frontId), (err: unknown) => err instanceof EngineError && err.status === 403 && /has active endpoints/.test(err.message));
    await assert.rejects(driver.removeNetwork('bridge'), /pre-defined network/);
  });

  await t.test('teardown leaves no iptables rule, link or address behind; aardvark-dns exits', async () => {
    const t0 = Date.now();
    owned();
    for (const id of containers) await driver.release(id);
    t.diagnostic(`release of ${containers.length} containers: ${Date.now() - t0} ms`);
    for (const n of driver.listNetworks()) if (!n.predefined) await driver.removeNetwork(n.id);
    assert.equal(driver.endpoint(cId), undefined);
    await eventually('aardvark-dns to exit', async () => (await driver.netavark.aardvarkPid()) === undefined);
    const diff = snapshotDiff(before, hostSnapshot(), owned());
    // The default bridge's guard rules stay while the daemon's network exists: loopback,
    // forward, and (icc off) the routed-hairpin guard.
    const guard = diff.added.filter((l) => l.includes(`moat:${driver.tag}:`));
    assert.equal(guard.length, 3, guard.join('\n'));
    // The default bridge outlives its last container: moat's idle port holds it, so netavark
    // keeps the bridge, its address and its chains for the next start.
    assert.equal(sh(['ip', '-o', 'link', 'show', 'master', bridgeName]).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]).join(' '), driver.anchorName, 'only the idle port is on the default bridge');
    const defaultHash = netavarkHash(driver.defaultBridge()!.id);
    const held = (l: string): boolean => l.includes(bridgeName) || l.includes(`${bridgeSubnet.prefix}.`) || l.includes(defaultHash) || l === `link ${driver.anchorName}`;
    assert.ok(diff.added.some((l) => l === `link ${bridgeName}`), 'the default bridge is still there');
    assert.deepEqual({ added: diff.added.filter((l) => !guard.includes(l) && !held(l)), removed: diff.removed }, { added: [], removed: [] });
    assert.deepEqual(await driver.removeAll(), []);
    assert.equal(sh(['ip', '-o', 'link', 'show']).includes(bridgeName), false, 'removeAll takes the default bridge');
    assert.equal(sh(['ip', '-o', 'link', 'show']).includes(driver.anchorName), false, 'and its idle port');
    assert.deepEqual(snapshotDiff(before, hostSnapshot(), owned()), { added: [], removed: [] }, 'and removeAll takes the guard rules');
    for (const s of spaces) assert.deepEqual(s.run(['ip', '-o', 'link', 'show']).stdout.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim()), ['lo'], `no veth left in ${s.name}`);
  });
});
