// The chain asks moatd's inspector about a create before any plugin decides: join targets
// become ids, the effects go to the policy and, as X-Moat-Effects, to every plugin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { AuthzChain, type AuthzPlugin } from './chain.js';
import { EFFECTS_HEADER, type RequestInspector } from './effects.js';
import { PolicyPlugin } from './policy-plugin.js';
import { parsePolicy } from './policy.js';
import type { AuthZWireRequest } from './wire.js';

const ID = 'a'.repeat(64);

function recorder(): { plugin: AuthzPlugin; seen: AuthZWireRequest[] } {
  const seen: AuthZWireRequest[] = [];
  return { seen, plugin: { name: 'rec', authZReq: async (w) => (seen.push(w), { Allow: true }), authZRes: async () => ({ Allow: true }) } };
}

const inspector: RequestInspector = {
  containerId: (ref) => (ref === 'donor' || ref === ID ? ID : undefined),
  effects: async (req) => ({
    seccomp: { profile: 'default', weakerThanDefault: JSON.stringify(req.body).includes('seccomp-allow=keyctl') ? ['keyctl'] : [] },
    joins: JSON.stringify(req.body).includes(`container:${ID}`) ? [{ namespace: 'pid', container: ID, privileged: false, host: true }] : [],
    volumesFrom: JSON.stringify(req.body).includes(`"${ID}:ro"`) ? [{ container: ID, bindSources: ['/etc/secrets'], volumes: ['cache'] }] : [],
  }),
};

const create = (hc: object): { identity: object; method: string; rawUrl: string; headers: Record<string, string>; body: Buffer } => {
  const body = Buffer.from(JSON.stringify({ Image: 'busybox', HostConfig: hc }));
  return { identity: {}, method: 'POST', rawUrl: '/v1.47/containers/create', headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body };
};

test('plugins get X-Moat-Effects and the join target as an id; the policy judges the same', async () => {
  const rec = recorder();
  const chain = new AuthzChain([rec.plugin], { inspector });
  const ok = await chain.authorizeRequest(create({ PidMode: 'container:donor', SecurityOpt: ['seccomp-allow=keyctl'] }));
  assert.equal((ok.canonical.body as { HostConfig: { PidMode: string } }).HostConfig.PidMode, `container:${ID}`);
  const header = rec.seen[0]!.RequestHeaders![EFFECTS_HEADER]!;
  assert.deepEqual(JSON.parse(header), {
    Seccomp: { Profile: 'default', WeakerThanDefault: ['keyctl'] },
    Joins: [{ Namespace: 'pid', Container: ID, Privileged: false, HostNamespace: true }],
    VolumesFrom: [],
  });
  assert.ok(Buffer.from(rec.seen[0]!.RequestBody!, 'base64').toString().includes(`container:${ID}`), 'the plugin saw the id');

  const policy = new PolicyPlugin(parsePolicy(JSON.stringify({ default: 'allow', rules: [{ id: 'host-ns', action: 'deny', when: { hostNamespaces: true } }] })));
  const denied = await new AuthzChain([policy], { inspector }).authorizeRequest(create({ PidMode: 'container:donor' })).catch((e: unknown) => e);
  assert.ok(denied instanceof EngineError && denied.status === 403);
  assert.match(denied.message, /joins the host's pid namespace through container a{64} \(rule host-ns\)$/);
});

test('a client cannot send X-Moat-Effects, and an unknown join target is a 404', async () => {
  const chain = new AuthzChain([recorder().plugin], { inspector });
  const forged = create({});
  const r1 = await chain.authorizeRequest({ ...forged, headers: { ...forged.headers, 'x-moat-effects': '{"Seccomp":null}' } }).catch((e: unknown) => e);
  assert.ok(r1 instanceof EngineError && r1.status === 400 && /set by the daemon/.test(r1.message));
  const r2 = await chain.authorizeRequest(create({ NetworkMode: 'container:later' })).catch((e: unknown) => e);
  assert.ok(r2 instanceof EngineError && r2.status === 404);
  assert.equal(r2.message, 'No such container: later');
  // Other requests carry no effects header.
  const rec = recorder();
  await new AuthzChain([rec.plugin], { inspector }).authorizeRequest({ identity: {}, method: 'GET', rawUrl: '/containers/json', headers: {}, body: Buffer.alloc(0) });
  assert.equal(rec.seen[0]!.RequestHeaders?.[EFFECTS_HEADER], undefined);
});

test('--volumes-from: the source becomes an id, its binds count as the create\'s own, an unknown source is a 400', async () => {
  const rec = recorder();
  const ok = await new AuthzChain([rec.plugin], { inspector }).authorizeRequest(create({ VolumesFrom: ['donor:ro'] }));
  assert.deepEqual((ok.canonical.body as { HostConfig: { VolumesFrom: string[] } }).HostConfig.VolumesFrom, [`${ID}:ro`]);
  assert.deepEqual(JSON.parse(rec.seen[0]!.RequestHeaders![EFFECTS_HEADER]!).VolumesFrom, [{ Container: ID, BindSources: ['/etc/secrets'], Volumes: ['cache'] }]);

  // A rule on bind sources sees the source container's binds (before: only the body's, none here).
  const policy = new PolicyPlugin(parsePolicy(JSON.stringify({ default: 'allow', rules: [{ id: 'binds', action: 'deny', when: { bindOutside: ['/srv'] } }] })));
  const denied = await new AuthzChain([policy], { inspector }).authorizeRequest(create({ VolumesFrom: ['donor:ro'] })).catch((e: unknown) => e);
  assert.ok(denied instanceof EngineError && denied.status === 403, String(denied));
  assert.match(denied.message, new RegExp(`mounts /etc/secrets through --volumes-from ${ID} \\(rule binds\\)$`));

  const unknown = await new AuthzChain([recorder().plugin], { inspector }).authorizeRequest(create({ VolumesFrom: ['later:ro'] })).catch((e: unknown) => e);
  assert.ok(unknown instanceof EngineError && unknown.status === 400, String(unknown));
  assert.equal(unknown.message, 'No such container: later');
  // A malformed entry is left to the engine, which names it.
  const bad = await new AuthzChain([recorder().plugin], { inspector }).authorizeRequest(create({ VolumesFrom: [''] }));
  assert.deepEqual((bad.canonical.body as { HostConfig: { VolumesFrom: string[] } }).HostConfig.VolumesFrom, ['']);
});
