import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { parsePolicy, evaluatePolicy, extractFacts, type PolicyRequest } from './policy.js';
import { canonicalizeRequest, resolveBindSources } from '../docker/index.js';

const POLICY = JSON.stringify({
  version: 1,
  default: 'deny',
  groups: { admins: ['root'] },
  rules: [
    { id: 'admins', description: 'admins may do anything', action: 'allow', groups: ['admins'] },
    { id: 'no-privileged', action: 'deny', message: 'privileged containers are not allowed', when: { privileged: true } },
    { id: 'caps', action: 'deny', message: 'capability not allowed', when: { capAddBeyond: ['NET_BIND_SERVICE', 'CAP_CHOWN'] } },
    { id: 'host-ns', action: 'deny', message: 'host namespaces are not allowed', when: { hostNamespaces: true } },
    { id: 'binds', action: 'deny', message: 'bind mounts only under /home and /srv/data', when: { bindOutside: ['/home', '/srv/data/'] } },
    { id: 'devices', action: 'deny', when: { devices: true }, description: 'no devices' },
    { id: 'unconfined', action: 'deny', when: { unconfined: true } },
    { id: 'volumes-from', action: 'deny', when: { volumesFrom: true } },
    { id: 'cgroup-parent', action: 'deny', when: { cgroupParent: true } },
    { id: 'exec-root', action: 'deny', message: 'exec as root is not allowed', users: ['bob'], when: { execAsRoot: true } },
    { id: 'read-only-carol', action: 'allow', users: ['carol'], methods: ['GET', 'HEAD'] },
    { id: 'carol-nothing-else', action: 'deny', users: ['carol'] },
    { id: 'anon-ping', action: 'allow', users: ['@anonymous'], endpoints: ['/_ping'] },
    { id: 'anon-deny', action: 'deny', users: ['@anonymous'], message: 'who are you' },
    { id: 'users', action: 'allow', users: ['*'], endpoints: ['/containers/**', '/exec/*/start', '/_ping', '/version', '/images/*/json'] },
  ],
});

const policy = parsePolicy(POLICY);

function decide(req: Partial<PolicyRequest> & { body?: unknown }): { allow: boolean; rule: string; msg: string } {
  return evaluatePolicy(policy, { method: 'POST', path: '/containers/create', user: 'alice', ...req } as PolicyRequest);
}

test('policy decisions, first match wins', async (t) => {
  const cases: Array<[string, Partial<PolicyRequest> & { body?: unknown }, boolean, string]> = [
    ['plain create', { body: { Image: 'x', HostConfig: { Privileged: false } } }, true, 'users'],
    ['privileged create', { body: { HostConfig: { Privileged: true } } }, false, 'no-privileged'],
    ['privileged exec', { path: '/containers/abc/exec', body: { Privileged: true, Cmd: ['sh'] } }, false, 'no-privileged'],
    ['admin via file group', { user: 'root', body: { HostConfig: { Privileged: true } } }, true, 'admins'],
    ['admin via request group', { user: 'dave', groups: ['admins'], body: { HostConfig: { Privileged: true } } }, true, 'admins'],
    ['allowed capability', { body: { HostConfig: { CapAdd: ['cap_chown', 'NET_BIND_SERVICE'] } } }, true, 'users'],
    ['extra capability', { body: { HostConfig: { CapAdd: ['NET_BIND_SERVICE', 'SYS_ADMIN'] } } }, false, 'caps'],
    ['ALL capabilities', { body: { HostConfig: { CapAdd: 'ALL' } } }, false, 'caps'],
    ['Capabilities field', { body: { HostConfig: { Capabilities: ['CAP_SYS_PTRACE'] } } }, false, 'caps'],
    ['host pid', { body: { HostConfig: { PidMode: 'host' } } }, false, 'host-ns'],
    ['host network', { body: { HostConfig: { NetworkMode: 'host' } } }, false, 'host-ns'],
    ['userns host', { body: { HostConfig: { UsernsMode: 'host' } } }, false, 'host-ns'],
    ['cgroupns host', { body: { HostConfig: { CgroupnsMode: 'host' } } }, false, 'host-ns'],
    ['container network of a plain container is fine', { body: { HostConfig: { NetworkMode: 'container:abc', IpcMode: 'shareable' } }, effects: { joins: [{ namespace: 'network', container: 'abc', privileged: false, host: false }] } }, true, 'users'],
    ['container network of a host-network container is host network', { body: { HostConfig: { NetworkMode: 'container:abc' } }, effects: { joins: [{ namespace: 'network', container: 'abc', privileged: false, host: true }] } }, false, 'host-ns'],
    ['container network that cannot be checked (behind dockerd) is denied', { body: { HostConfig: { NetworkMode: 'container:abc' } } }, false, 'host-ns'],
    ['bind under /home', { body: { HostConfig: { Binds: ['/home/alice/src:/src:ro'] } } }, true, 'users'],
    ['bind of /srv/data itself', { body: { HostConfig: { Binds: ['/srv/data:/d'] } } }, true, 'users'],
    ['bind of /homeevil (prefix is per component)', { body: { HostConfig: { Binds: ['/homeevil:/x'] } } }, false, 'binds'],
    ['bind of /srv/database', { body: { HostConfig: { Mounts: [{ Type: 'bind', Source: '/srv/database', Target: '/x' }] } } }, false, 'binds'],
    ['bind of /etc', { body: { HostConfig: { Binds: ['/etc:/x'] } } }, false, 'binds'],
    ['named volume is not a bind', { body: { HostConfig: { Binds: ['data:/x'] } } }, true, 'users'],
    ['local volume with device=/etc', { body: { HostConfig: { Mounts: [{ Type: 'volume', Source: 'v', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/etc' } } } }] } } }, false, 'binds'],
    ['device', { body: { HostConfig: { Devices: [{ PathOnHost: '/dev/kvm', PathInContainer: '/dev/kvm', CgroupPermissions: 'rwm' }] } } }, false, 'devices'],
    ['device cgroup rule', { body: { HostConfig: { DeviceCgroupRules: ['a *:* rwm'] } } }, false, 'devices'],
    ['seccomp unconfined', { body: { HostConfig: { SecurityOpt: ['seccomp=unconfined'] } } }, false, 'unconfined'],
    ['apparmor unconfined (old colon form)', { body: { HostConfig: { SecurityOpt: ['apparmor:unconfined'] } } }, false, 'unconfined'],
    ['systempaths unconfined', { body: { HostConfig: { SecurityOpt: ['systempaths=unconfined'] } } }, false, 'unconfined'],
    ['MaskedPaths emptied', { body: { HostConfig: { MaskedPaths: [] } } }, false, 'unconfined'],
    ['custom seccomp profile as strict as the default is allowed', { body: { HostConfig: { SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ERRNO"}'] } }, effects: { seccomp: { profile: 'custom', weakerThanDefault: [] } } }, true, 'users'],
    ['custom seccomp profile weaker than the default is "unconfined"', { body: { HostConfig: { SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] } }, effects: { seccomp: { profile: 'custom', weakerThanDefault: ['keyctl'] } } }, false, 'unconfined'],
    ['seccomp-allow=keyctl is "unconfined"', { body: { HostConfig: { SecurityOpt: ['seccomp-allow=keyctl'] } }, effects: { seccomp: { profile: 'default', weakerThanDefault: ['keyctl'] } } }, false, 'unconfined'],
    ['a custom profile that cannot be compared (behind dockerd) is denied', { body: { HostConfig: { SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] } } }, false, 'unconfined'],
    ['bare "disable" is label=disable', { body: { HostConfig: { SecurityOpt: ['disable'] } } }, false, 'unconfined'],
    ['bob exec as root', { user: 'bob', path: '/containers/c1/exec', body: { User: 'root', Cmd: ['sh'] } }, false, 'exec-root'],
    ['bob exec as 0:0', { user: 'bob', path: '/containers/c1/exec', body: { User: '0:0', Cmd: ['sh'] } }, false, 'exec-root'],
    ['bob exec without user', { user: 'bob', path: '/containers/c1/exec', body: { Cmd: ['sh'] } }, false, 'exec-root'],
    ['bob exec as 1000', { user: 'bob', path: '/containers/c1/exec', body: { User: '1000', Cmd: ['sh'] } }, true, 'users'],
    ['carol GET', { user: 'carol', method: 'GET', path: '/containers/json' }, true, 'read-only-carol'],
    ['carol POST', { user: 'carol', path: '/containers/abc/start' }, false, 'carol-nothing-else'],
    ['anonymous ping', { user: undefined, method: 'HEAD', path: '/_ping' }, true, 'anon-ping'],
    ['anonymous create', { user: undefined, body: {} }, false, 'anon-deny'],
    ['versioned path', { path: '/v1.41/containers/create', body: { HostConfig: { Privileged: true } } }, false, 'no-privileged'],
    ['endpoint with one-segment wildcard', { method: 'GET', path: '/images/busybox/json' }, true, 'users'],
    ['unlisted endpoint falls to default', { method: 'POST', path: '/images/load' }, false, 'default'],
    ['volumes-from another container', { body: { HostConfig: { VolumesFrom: ['admin-box:ro'] } }, effects: { volumesFrom: [{ container: 'a'.repeat(64), bindSources: [], volumes: ['v1'] }] } }, false, 'volumes-from'],
    ['volumes-from whose binds are unknown here: the bind rule matches first', { body: { HostConfig: { VolumesFrom: ['admin-box:ro'] } } }, false, 'binds'],
    ['cgroup parent', { body: { HostConfig: { CgroupParent: 'ci/jobs' } } }, false, 'cgroup-parent'],
    ['empty cgroup parent is no cgroup parent', { body: { HostConfig: { CgroupParent: '' } } }, true, 'users'],
    ['build with host network', { path: '/build', query: [['networkmode', 'host']] }, false, 'host-ns'],
    ['build with default network', { path: '/build', query: [['t', 'x']] }, false, 'default'],
  ];
  for (const [name, req, allow, rule] of cases) {
    await t.test(name, () => {
      const d = decide(req);
      assert.equal(d.allow, allow, d.msg);
      assert.equal(d.rule, rule);
    });
  }
});

test('deny message names the rule', () => {
  assert.deepEqual(decide({ body: { HostConfig: { Privileged: true } } }), {
    allow: false,
    rule: 'no-privileged',
    msg: 'privileged containers are not allowed (rule no-privileged)',
  });
  assert.equal(decide({ body: { HostConfig: { Devices: [{ PathOnHost: '/dev/kvm' }] } } }).msg, 'no devices (rule devices)');
});

test('rules without id are named by index; default allow', () => {
  const p = parsePolicy('{"default":"allow","rules":[{"action":"deny","when":{"privileged":true}}]}');
  assert.deepEqual(evaluatePolicy(p, { method: 'POST', path: '/containers/create', body: { HostConfig: { Privileged: true } } }).rule, '#0');
  assert.deepEqual(evaluatePolicy(p, { method: 'GET', path: '/info', body: undefined }), { allow: true, rule: 'default', msg: 'no rule matched; the default is allow' });
});

test('facts come from the canonical body: a symlinked bind is judged at its target', async () => {
  const c = canonicalizeRequest({ method: 'POST', rawUrl: '//v1.41/containers/%63reate', headers: {}, body: Buffer.from('{"HostConfig":{"Binds":["/home/alice/link:/x","/tmp/../home/alice:/y"]}}'), maxBody: 1 << 20 });
  assert.equal(decide({ path: c.path, body: c.body }).allow, true);
  const r = await resolveBindSources(c, async (p) => (p === '/home/alice/link' ? '/etc' : p));
  assert.deepEqual(extractFacts('POST', r.path, r.body).bindSources, ['/etc', '/home/alice']);
  assert.equal(decide({ path: r.path, body: r.body }).rule, 'binds');
});

test('invalid policy files are refused with every issue and its path', async (t) => {
  const bad = (text: string, re: RegExp): void =>
    assert.throws(() => parsePolicy(text), (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && re.test(e.message));
  await t.test('not JSON', () => bad('{default: allow}', /Invalid authorization policy: expected string key/));
  await t.test('duplicate key', () => bad('{"default":"allow","default":"deny","rules":[]}', /duplicate key "default"/));
  await t.test('unknown key (typo)', () => bad('{"default":"allow","rules":[{"action":"deny","when":{"privilegd":true}}]}', /rules\[0\]\.when: Unrecognized key/));
  await t.test('bad action', () => bad('{"default":"allow","rules":[{"action":"maybe"}]}', /rules\[0\]\.action/));
  await t.test('relative prefix', () => bad('{"default":"allow","rules":[{"action":"deny","when":{"bindOutside":["home"]}}]}', /rules\[0\]\.when\.bindOutside\[0\]: must be an absolute path/));
  await t.test('bad namespace', () => bad('{"default":"allow","rules":[{"action":"deny","when":{"hostNamespaces":["mnt"]}}]}', /hostNamespaces/));
  await t.test('duplicate ids', () => bad('{"default":"allow","rules":[{"id":"a","action":"deny"},{"id":"a","action":"allow"}]}', /rules\[1\]\.id: duplicate rule id "a"/));
  await t.test('missing default', () => bad('{"rules":[]}', /default/));
});

test('seccomp conditions see the effective filter and name the syscalls in the message', () => {
  const p = parsePolicy(JSON.stringify({
    default: 'allow',
    rules: [
      { id: 'keys', action: 'deny', message: 'key syscalls stay blocked', when: { seccompWeakerThanDefault: ['keyctl', 'add_key'] } },
      { id: 'weaker', action: 'deny', message: 'seccomp weaker than the default', when: { seccompWeakerThanDefault: true } },
    ],
  }));
  const req = (weaker: string[] | undefined): PolicyRequest => ({
    method: 'POST', path: '/containers/create', body: { HostConfig: { SecurityOpt: ['seccomp=x'] } },
    effects: { seccomp: { profile: 'custom', weakerThanDefault: weaker } },
  });
  assert.deepEqual(evaluatePolicy(p, req(['add_key', 'keyctl', 'unshare'])), {
    allow: false, rule: 'keys', msg: 'key syscalls stay blocked: seccomp profile custom permits add_key, keyctl, which the default profile blocks (rule keys)',
  });
  assert.equal(evaluatePolicy(p, req(['unshare'])).rule, 'weaker');
  assert.match(evaluatePolicy(p, req(['unshare'])).msg, /permits unshare, which the default profile blocks \(rule weaker\)$/);
  assert.deepEqual(evaluatePolicy(p, req([])), { allow: true, rule: 'default', msg: 'no rule matched; the default is allow' });
  assert.equal(evaluatePolicy(p, req(undefined)).rule, 'keys', 'unknown matches a deny rule');
  const names = Array.from({ length: 12 }, (_v, i) => `s${String(i).padStart(2, '0')}`);
  assert.match(evaluatePolicy(p, req(names)).msg, /permits s00, s01, s02, s03, s04, s05, s06, s07 and 4 more,/);
});

test('unknown facts never make an allow rule match', () => {
  const p = parsePolicy(JSON.stringify({
    default: 'deny',
    rules: [
      { id: 'plain', action: 'allow', when: { seccompWeakerThanDefault: ['keyctl'] } },
      { id: 'joins', action: 'allow', when: { joinsPrivileged: true } },
    ],
  }));
  const d = evaluatePolicy(p, { method: 'POST', path: '/containers/create', body: { HostConfig: { SecurityOpt: ['seccomp-allow=keyctl'], PidMode: 'container:x' } } });
  assert.equal(d.rule, 'default');
});

test('joining another container\'s namespaces: joinsContainer, joinsPrivileged, and host namespaces reached through a join', () => {
  const p = parsePolicy(JSON.stringify({
    default: 'allow',
    rules: [
      { id: 'host-ns', action: 'deny', message: 'host namespaces are not allowed', when: { hostNamespaces: ['pid'] } },
      { id: 'join-priv', action: 'deny', message: 'no joining privileged containers', when: { joinsPrivileged: true } },
      { id: 'no-net-join', action: 'deny', when: { joinsContainer: ['network'] } },
    ],
  }));
  const create = (mode: Record<string, string>, joins: NonNullable<PolicyRequest['effects']>['joins']): PolicyRequest =>
    ({ method: 'POST', path: '/containers/create', body: { HostConfig: mode }, effects: { joins } });
  const hostPid = evaluatePolicy(p, create({ PidMode: 'container:abc' }, [{ namespace: 'pid', container: 'abc', privileged: false, host: true }]));
  assert.deepEqual(hostPid, { allow: false, rule: 'host-ns', msg: "host namespaces are not allowed: joins the host's pid namespace through container abc (rule host-ns)" });
  const priv = evaluatePolicy(p, create({ IpcMode: 'container:abc' }, [{ namespace: 'ipc', container: 'abc', privileged: true, host: false }]));
  assert.deepEqual(priv, { allow: false, rule: 'join-priv', msg: 'no joining privileged containers: joins the ipc namespace of privileged container abc (rule join-priv)' });
  assert.equal(evaluatePolicy(p, create({ NetworkMode: 'container:abc' }, [{ namespace: 'network', container: 'abc', privileged: false, host: false }])).rule, 'no-net-join');
  assert.equal(evaluatePolicy(p, create({ PidMode: 'container:abc' }, [{ namespace: 'pid', container: 'abc', privileged: false, host: false }])).allow, true);
});

test('--volumes-from: the binds of the source count as bind sources; unknown ones (behind dockerd) fail closed', () => {
  const p = parsePolicy(JSON.stringify({
    default: 'deny',
    rules: [
      { id: 'binds', action: 'deny', message: 'binds only under /srv', when: { bindOutside: ['/srv'] } },
      { id: 'no-binds', action: 'allow', when: { binds: false } },
      { id: 'srv', action: 'allow' },
    ],
  }));
  const create = (volumesFrom: NonNullable<PolicyRequest['effects']>['volumesFrom']): PolicyRequest =>
    ({ method: 'POST', path: '/containers/create', body: { HostConfig: { VolumesFrom: ['data:ro'] } }, ...(volumesFrom ? { effects: { volumesFrom } } : {}) });
  assert.deepEqual(evaluatePolicy(p, create([{ container: 'abc', bindSources: ['/etc'], volumes: [] }])), { allow: false, rule: 'binds', msg: 'binds only under /srv: mounts /etc through --volumes-from abc (rule binds)' });
  assert.equal(evaluatePolicy(p, create([{ container: 'abc', bindSources: ['/srv/x'], volumes: [] }])).rule, 'srv');
  assert.equal(evaluatePolicy(p, create([{ container: 'abc', bindSources: [], volumes: ['cache'] }])).rule, 'no-binds');
  // Without the daemon's answer the source's binds are unknown: the deny rule matches, the allow-if-none does not.
  assert.deepEqual(evaluatePolicy(p, create(undefined)), { allow: false, rule: 'binds', msg: 'binds only under /srv: takes the mounts of data:ro, which cannot be checked here (rule binds)' });
  assert.deepEqual(extractFacts('POST', '/containers/create', { HostConfig: { VolumesFrom: ['data:ro'] } }).bindSources, ['volumes-from:data:ro']);
});

test('the canonical body spells security options one way: what the policy and plugins compare', () => {
  const c = canonicalizeRequest({ method: 'POST', rawUrl: '/containers/create', headers: {}, body: Buffer.from('{"HostConfig":{"SecurityOpt":["disable","seccomp:unconfined","no-new-privileges","apparmor=unconfined"]}}'), maxBody: 1 << 20 });
  assert.deepEqual((c.body as { HostConfig: { SecurityOpt: string[] } }).HostConfig.SecurityOpt, ['label=disable', 'seccomp=unconfined', 'no-new-privileges', 'apparmor=unconfined']);
  assert.deepEqual(extractFacts('POST', c.path, c.body).unconfined.sort(), ['apparmor', 'seccomp', 'selinux']);
});

test('publishOutside: ports published on an address the rule does not list are denied, naming it', () => {
  const p = parsePolicy(JSON.stringify({ default: 'allow', rules: [{ id: 'loopback-ports', action: 'deny', message: 'publish ports on 127.0.0.1 only', when: { publishOutside: ['default', '127.0.0.1'] } }] }));
  const judge = (hc: unknown): { allow: boolean; msg: string } => evaluatePolicy(p, { method: 'POST', path: '/containers/create', user: 'alice', body: { Image: 'busybox', HostConfig: hc } } as PolicyRequest);
  assert.equal(judge({ PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } }).allow, true, "the daemon's default address");
  assert.equal(judge({ PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] }, PublishAllPorts: true }).allow, true);
  assert.equal(judge({}).allow, true, 'nothing published');
  const denied = judge({ PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '1' }, { HostIp: '0.0.0.0', HostPort: '2' }] } });
  assert.deepEqual(denied, { allow: false, rule: 'loopback-ports', msg: 'publish ports on 127.0.0.1 only: publishes ports on 0.0.0.0 (rule loopback-ports)' });
  assert.deepEqual(extractFacts('POST', '/containers/create', { HostConfig: { PortBindings: { '53/udp': null }, PublishAllPorts: true } }).publishAddresses, ['default']);
  assert.throws(() => parsePolicy(JSON.stringify({ default: 'allow', rules: [{ action: 'deny', when: { publishOutside: ['localhost'] } }] })), /publishOutside\[0\]: must be an IPv4 address or "default"/);
});
