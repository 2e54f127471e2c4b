// The networking seam (networking.ts) on the engine's fakes: where the lifecycle calls it,
// in which order with the runtime, and what the /etc files say once it gives an address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError, invalid } from '../base/index.js';
import { runtimeFailure } from '../runtime/index.js';
import { rig } from '../../test/helpers/engine-rig.js';
import type { FakeRuntime } from '../../test/helpers/fake-runtime.js';
import type { ContainerNetworking } from './networking.js';

/**
 * A network that records its calls into `log` and gives 10.88.0.5; `runtimeState` says what
 * the runtime knows of the container when prepare is called; `addresses` are the default
 * bridge addresses of running containers (link targets).
 */
function recordingNetwork(log: string[], runtimeState: (id: string) => string = () => '?', addresses: ReadonlyMap<string, string> = new Map()): ContainerNetworking {
  return {
    validate(rec) {
      log.push(`validate ${rec.Name}`);
      if (rec.Config.Labels?.['net'] === 'nosuch') throw invalid('network nosuch not found');
      return { hostGateway: '10.88.0.1' };
    },
    async prepare(rec) {
      log.push(`prepare ${rec.Name} runtime:${runtimeState(rec.Id)}`);
      return { ip: '10.88.0.5', networkDns: '10.88.0.1', hostGateway: '10.88.0.1' };
    },
    async attach(rec, pid) {
      log.push(`attach ${rec.Name} ${pid !== undefined && pid > 0 ? 'pid' : 'nopid'}`);
    },
    defaultBridgeAddress: (id) => addresses.get(id),
    addressOn: () => undefined,
    defaultBridge: () => ({ icc: true }),
    async release(id) {
      log.push(`release ${id.slice(0, 4)}`);
    },
    async restore(running) {
      log.push(`restore ${running.size}`);
    },
    async close() {
      log.push('close');
    },
  };
}

test('the lifecycle calls the network at create, around the runtime create, at exit, failed start and removal', async () => {
  const log: string[] = [];
  const holder: { runtime?: FakeRuntime } = {};
  const r = await rig({ networking: recordingNetwork(log, (id) => (holder.runtime?.exists(id) ? 'has it' : 'not yet')) });
  holder.runtime = r.runtime;
  assert.deepEqual(log, ['restore 0']);
  await assert.rejects(r.engine.create({ name: 'nonet', config: { Image: 'busybox', Labels: { net: 'nosuch' } }, hostConfig: {} }), (e: unknown) => e instanceof EngineError && e.status === 400);
  assert.deepEqual(r.engine.list(), [], 'a network the create cannot have makes nothing');
  const { Id } = await r.engine.create({ name: 'web', config: { Image: 'busybox', Hostname: 'web' }, hostConfig: { ExtraHosts: ['gw:host-gateway'] } });
  const short = Id.slice(0, 4);
  await r.engine.start(Id);
  assert.deepEqual(log, ['restore 0', 'validate /nonet', 'validate /web', 'prepare /web runtime:not yet', 'attach /web pid'], 'prepare before the runtime creates the container, attach after');
  const dir = join(r.dataRoot, 'containers', Id);
  assert.match(readFileSync(join(dir, 'hosts'), 'utf8'), /^10\.88\.0\.5\tweb$/m, 'the hosts file names the address prepare gave');
  assert.match(readFileSync(join(dir, 'hosts'), 'utf8'), /^10\.88\.0\.1\tgw$/m, 'host-gateway is the gateway');
  assert.equal(readFileSync(join(dir, 'resolv.conf'), 'utf8'), 'nameserver 10.88.0.1\noptions ndots:0\n', "the network's DNS server");
  r.runtime.exit(Id, 0);
  await r.engine.wait(Id, 'not-running');
  assert.equal(log.filter((l) => l === `release ${short}`).length, 1, 'released at the exit');
  r.runtime.failNext('create', runtimeFailure('exec: "x": executable file not found'));
  await assert.rejects(r.engine.start(Id));
  assert.equal(log.filter((l) => l === `release ${short}`).length, 2, 'released after a failed start');
  await r.engine.remove(Id, { force: false });
  assert.equal(log.filter((l) => l === `release ${short}`).length, 3, 'released at removal (idempotent)');
  await r.close();
  assert.equal(log.at(-1), 'close');
});

test('the attach happens after the runtime created the container and before its process starts', async () => {
  const log: string[] = [];
  const net = recordingNetwork(log);
  const r = await rig({ networking: { ...net, attach: async (rec, pid) => void log.push(`attach while ${r.runtime.containers.get(rec.Id)?.status} ${pid}`) } });
  const { Id } = await r.engine.create({ name: 'ordered', config: { Image: 'busybox' }, hostConfig: {} });
  await r.engine.start(Id);
  const pid = r.runtime.containers.get(Id)!.pid;
  assert.ok(log.includes(`attach while created ${pid}`), log.join(', '));
  await r.close();
});

test('at daemon start the network is told which containers still run, before reconciling', async () => {
  const first = await rig();
  const a = (await first.engine.create({ name: 'aa', config: { Image: 'busybox' }, hostConfig: {} })).Id;
  const b = (await first.engine.create({ name: 'bb', config: { Image: 'busybox' }, hostConfig: {} })).Id;
  await first.engine.start(a);
  await first.engine.start(b);
  await first.close();
  first.runtime.exit(b, 1);
  const log: string[] = [];
  const second = await rig({ runtime: first.runtime, dataRoot: first.dataRoot, networking: recordingNetwork(log) });
  assert.deepEqual(log.slice(0, 2), ['restore 2', `release ${b.slice(0, 4)}`], 'restore first; the one that exited meanwhile is then released');
  await second.close();
});

test('a user network as NetworkMode and the endpoint settings reach the network seam in the record; a malformed mode is a 400 first', async () => {
  const seen: Array<{ mode: string | undefined; eps: unknown }> = [];
  const net = recordingNetwork([]);
  const r = await rig({ networking: { ...net, validate: (rec) => (seen.push({ mode: rec.HostConfig.NetworkMode, eps: rec.NetworkingConfig }), undefined) } });
  const networkingConfig = { EndpointsConfig: { front: { Aliases: ['web'] } } };
  const { Id } = await r.engine.create({ name: 'usernet', config: { Image: 'busybox' }, hostConfig: { NetworkMode: 'front' }, networkingConfig });
  assert.deepEqual(seen, [{ mode: 'front', eps: networkingConfig }]);
  assert.deepEqual(r.engine.get(Id).NetworkingConfig, networkingConfig, 'kept in the record for every start');
  await assert.rejects(r.engine.create({ name: 'badmode', config: { Image: 'busybox' }, hostConfig: { NetworkMode: 'no such/mode' } }), (e: unknown) => e instanceof EngineError && e.status === 400 && /invalid NetworkMode/.test(e.message));
  assert.equal(seen.length, 1, 'the seam never saw the malformed mode');
  await r.close();
});

test('changeNetworks writes the new NetworkMode and endpoint settings under the lock, and says whether the container runs', async () => {
  const r = await rig({ networking: recordingNetwork([]) });
  const { Id } = await r.engine.create({ name: 'mover', config: { Image: 'busybox' }, hostConfig: {} });
  const runningSeen: boolean[] = [];
  await r.engine.changeNetworks(Id, async (_c, running) => (runningSeen.push(running), { networkMode: 'back', networkingConfig: { EndpointsConfig: { back: {} } } }));
  await r.engine.start(Id);
  await r.engine.changeNetworks(Id, async (c, running) => (runningSeen.push(running), { networkMode: c.HostConfig.NetworkMode ?? '', networkingConfig: { EndpointsConfig: { back: {}, front: { Aliases: ['x'] } } } }));
  assert.deepEqual(runningSeen, [false, true]);
  assert.equal(r.engine.get(Id).HostConfig.NetworkMode, 'back');
  assert.deepEqual(r.engine.get(Id).NetworkingConfig, { EndpointsConfig: { back: {}, front: { Aliases: ['x'] } } });
  await assert.rejects(r.engine.changeNetworks(Id, async () => { throw invalid('refused by the driver'); }), /refused by the driver/);
  assert.equal(r.engine.get(Id).HostConfig.NetworkMode, 'back', 'a refused change writes nothing');
  await r.close();
});

test('--link: checked at create and stored in Docker form; at start the running target is in /etc/hosts and the variables', async () => {
  const addresses = new Map<string, string>();
  const r = await rig({ networking: recordingNetwork([], () => '?', addresses) });
  const web = (await r.engine.create({ name: 'web', config: { Image: 'busybox', ExposedPorts: { '80/tcp': {} } }, hostConfig: {} })).Id;
  const is400 = (re: RegExp) => (e: unknown) => e instanceof EngineError && e.status === 400 && re.test(e.message);
  await assert.rejects(r.engine.create({ name: 'x1', config: { Image: 'busybox' }, hostConfig: { Links: ['nosuch:db'] } }), is400(/^could not get container for nosuch: No such container: nosuch$/));
  await assert.rejects(r.engine.create({ name: 'x2', config: { Image: 'busybox' }, hostConfig: { NetworkMode: 'host', Links: ['web:db'] } }), is400(/^conflicting options: host type networking can't be used with links/));
  await assert.rejects(r.engine.create({ name: 'x3', config: { Image: 'busybox' }, hostConfig: { NetworkMode: 'container:web', Links: ['web:db'] } }), is400(/^conflicting options: container type network can't be used with links/));
  // With no network the link is checked and kept, and start writes nothing for it (dockerd's way).
  const none = (await r.engine.create({ name: 'x4', config: { Image: 'busybox' }, hostConfig: { NetworkMode: 'none', Links: ['web:db'] } })).Id;
  assert.deepEqual(r.engine.get(none).HostConfig.Links, ['/web:/x4/db']);
  await r.engine.remove(none, { force: true });
  await assert.rejects(r.engine.create({ name: 'x5', config: { Image: 'busybox' }, hostConfig: { NetworkMode: 'none', Links: ['nosuch:db'] } }), is400(/^could not get container for nosuch/));
  await r.engine.create({ name: 'fronted', config: { Image: 'busybox' }, hostConfig: { NetworkMode: 'front' } });
  await assert.rejects(r.engine.create({ name: 'x3', config: { Image: 'busybox' }, hostConfig: { Links: ['fronted:f'] } }), is400(/^Cannot link to \/fronted, as it does not belong to the default network$/));
  assert.deepEqual(r.engine.list().map((c) => c.Name).sort(), ['/fronted', '/web'], 'a refused link makes nothing');
  const client = (await r.engine.create({ name: 'client', config: { Image: 'busybox' }, hostConfig: { Links: ['web:db'] } })).Id;
  assert.deepEqual(r.engine.get(client).HostConfig.Links, ['/web:/client/db']);
  await assert.rejects(r.engine.start(client), is400(/^Cannot link to a non running container: \/web AS \/client\/db$/));
  await r.engine.start(web);
  addresses.set(web, '10.88.0.7');
  await r.engine.start(client);
  const hosts = readFileSync(join(r.dataRoot, 'containers', client, 'hosts'), 'utf8');
  assert.match(hosts, new RegExp(`^10\\.88\\.0\\.7\\tdb ${web.slice(0, 12)} web$`, 'm'));
  const env = r.runtime.containers.get(client)!.spec.process?.env ?? [];
  for (const v of ['DB_PORT=tcp://10.88.0.7:80', 'DB_PORT_80_TCP_ADDR=10.88.0.7', 'DB_NAME=/client/db']) assert.ok(env.includes(v), `${v} in ${env.join(' ')}`);
  await r.engine.rename(client, 'client2');
  assert.deepEqual(r.engine.get(client).HostConfig.Links, ['/web:/client2/db'], 'a renamed source keeps its links under its new name');
  await r.close();
});

/** A network whose prepare makes a namespace (netnsPath) and whose attach runs `during` first. */
function earlyNetwork(log: string[], during: (id: string) => Promise<void>): ContainerNetworking {
  const net = recordingNetwork(log);
  return {
    ...net,
    async prepare(rec, o) {
      log.push(`prepare own:${o.ownNamespace}`);
      return { ip: '10.88.0.5', hostGateway: '10.88.0.1', netnsPath: `/run/netns/moat-test-${rec.Id.slice(0, 12)}` };
    },
    async attach(rec, pid) {
      log.push(`attach ${pid === undefined ? 'prepared' : 'pid'}`);
      await during(rec.Id);
      log.push('attached');
    },
  };
}

/** Resolves once the fake runtime has created the container (rejects after 2 s: the start waited for the attach first). */
async function untilCreated(r: { runtime: FakeRuntime }, id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (r.runtime.exists(id)) return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error('the runtime never created the container while the network was being set up');
}

test('with a namespace made at prepare, runc joins it by path and the attach runs while the runtime creates the container', async () => {
  const log: string[] = [];
  const holder: { r?: { runtime: FakeRuntime } } = {};
  const r = await rig({ networking: earlyNetwork(log, (id) => untilCreated(holder.r!, id)) });
  holder.r = r;
  const { Id } = await r.engine.create({ name: 'early', config: { Image: 'busybox' }, hostConfig: {} });
  await r.engine.start(Id);
  assert.deepEqual(log.slice(-3), ['prepare own:true', 'attach prepared', 'attached'], 'attach without a pid: the namespace prepare made');
  const c = r.runtime.containers.get(Id)!;
  assert.deepEqual(c.spec.linux?.namespaces?.find((n) => n.type === 'network'), { type: 'network', path: `/run/netns/moat-test-${Id.slice(0, 12)}` });
  assert.equal(c.status, 'running', 'started once both were done');
  await r.close();
});

test('a network setup that fails while the runtime creates fails the start, after the create, and undoes both', async () => {
  const log: string[] = [];
  const holder: { r?: { runtime: FakeRuntime } } = {};
  const r = await rig({
    networking: earlyNetwork(log, async (id) => {
      await untilCreated(holder.r!, id);
      throw new EngineError('internal', 'ERR_NETAVARK_FAILED', 'Cannot set up network: netavark: boom');
    }),
  });
  holder.r = r;
  const { Id } = await r.engine.create({ name: 'netfails', config: { Image: 'busybox' }, hostConfig: {} });
  await assert.rejects(r.engine.start(Id), /netavark: boom/);
  assert.equal(r.runtime.exists(Id), false, 'the created container is deleted');
  assert.ok(r.runtime.callsOf(Id).includes('delete "force"'), r.runtime.callsOf(Id).join(', '));
  assert.equal(r.runtime.callsOf(Id).includes('start'), false, 'never started');
  assert.ok(log.includes(`release ${Id.slice(0, 4)}`), 'the network is released (idempotent after the driver undid its own)');
  assert.equal(r.engine.get(Id).State.Status, 'created');
  await r.close();
});

test('a runtime create that fails while the network is set up fails the start only once the setup is done, then releases it', async () => {
  const log: string[] = [];
  const r = await rig({ networking: earlyNetwork(log, () => new Promise((res) => setTimeout(res, 50))) });
  const { Id } = await r.engine.create({ name: 'runcfails', config: { Image: 'busybox' }, hostConfig: {} });
  r.runtime.failNext('create', runtimeFailure('exec: "nope": executable file not found'));
  await assert.rejects(r.engine.start(Id), /nope/);
  const at = log.indexOf('attached');
  assert.ok(at >= 0 && log.indexOf(`release ${Id.slice(0, 4)}`) > at, `released after the setup finished: ${log.join(', ')}`);
  assert.equal(r.engine.get(Id).State.ExitCode, 127);
  await r.close();
});
