// Issue 11 findings 4 and 8: the authorization policy judges what a container will get, not
// how it was spelled. A policy that denies `seccomp=unconfined` also denies
// `seccomp-allow=keyctl`, a custom profile whose default is ALLOW and one that allows
// unshare; the default and a stricter profile pass, and keyctl stays blocked inside them. A
// bare `disable` is judged as label=disable. Joining the namespaces of a host-namespace or
// privileged container can be denied. Plugins see the same facts in X-Moat-Effects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { buildProbe, parseProbeOutput, verdict } from '../../helpers/probe/index.js';
import { deferStack, startTestPlugin, uniquePluginName } from '../../helpers/authz-plugin/index.js';
import { defaultProfile } from '../../../src/seccomp/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const POLICY = {
  version: 1,
  default: 'allow',
  rules: [
    { id: 'no-unconfined', action: 'deny', message: 'unconfined seccomp is not allowed', when: { unconfined: ['seccomp'] } },
    { id: 'no-label-disable', action: 'deny', message: 'SELinux labels cannot be turned off', when: { unconfined: ['selinux'] } },
    { id: 'host-ns', action: 'deny', message: 'host namespaces are not allowed', when: { hostNamespaces: true } },
    { id: 'join-privileged', action: 'deny', message: 'joining a privileged container is not allowed', when: { joinsPrivileged: true } },
  ],
};

const message = (r: { json: <T>() => T }): string => r.json<{ message: string }>().message;

/** moat's default profile with every rule about `name` replaced by `rule` (one rule per syscall: libseccomp lets an unconditional rule absorb the others). */
function withRule(name: string, rule: Record<string, unknown>): object {
  const p = defaultProfile();
  return { ...p, syscalls: [rule, ...p.syscalls.map((r) => ({ ...r, names: r.names.filter((n) => n !== name) })).filter((r) => r.names.length > 0)] };
}

async function createWith(d: TestDaemon, hc: Record<string, unknown>, cmd: string[] = ['true'], name?: string): Promise<{ status: number; json: <T>() => T; body: Buffer }> {
  return await d.api('POST', `/containers/create${name ? `?name=${name}` : ''}`, { Image: 'busybox', Cmd: cmd, HostConfig: hc });
}

/** The text of a multiplexed stream (both streams). */
function demux(buf: Buffer): string {
  let text = '';
  for (let i = 0; i + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(i + 4);
    text += buf.subarray(i + 8, i + 8 + len).toString();
    i += 8 + len;
  }
  return text;
}

/** Run the probe in a container with `hc` and return its verdicts by label. */
async function probe(d: TestDaemon, probePath: string, hc: Record<string, unknown>, cmds: string[]): Promise<Map<string, string>> {
  const r = await createWith(d, { ...hc, Binds: [`${dirname(probePath)}:/p:ro`] }, [`/p/${basename(probePath)}`, ...cmds.flatMap((c, i) => (i > 0 ? [',', c] : [c]))]);
  assert.equal(r.status, 201, r.body.toString());
  const id = r.json<{ Id: string }>().Id;
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  await d.api('POST', `/containers/${id}/wait`);
  const logs = await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  const { results } = parseProbeOutput(demux(logs.body));
  return new Map(cmds.map((c) => [c, verdict(results.get(c)?.[0])]));
}

test('issue 11.4: a policy that denies seccomp=unconfined denies every weaker filter, by its effect', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const defer = deferStack(t);
  const dir = mkdtempSync('/tmp/mt-azfx-');
  defer(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));
  const d = await startDaemon({ args: ['--authorization-policy', join(dir, 'policy.json')] });
  defer(() => d.cleanup());
  const probePath = buildProbe();

  const denied: Array<[string, string[], RegExp]> = [
    ['seccomp=unconfined', ['seccomp=unconfined'], /unconfined seccomp is not allowed \(rule no-unconfined\)$/],
    ['seccomp-allow=keyctl', ['seccomp-allow=keyctl'], /unconfined seccomp is not allowed: seccomp profile default permits keyctl, which the default profile blocks \(rule no-unconfined\)$/],
    ['a custom profile with an ALLOW default', [`seccomp=${JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] })}`], /seccomp profile custom permits .*add_key.*which the default profile blocks \(rule no-unconfined\)$/],
    ['a custom profile allowing unshare', [`seccomp=${JSON.stringify(withRule('unshare', { names: ['unshare'], action: 'SCMP_ACT_ALLOW' }))}`], /seccomp profile custom permits unshare, which the default profile blocks \(rule no-unconfined\)$/],
    ['the old colon form seccomp:unconfined', ['seccomp:unconfined'], /\(rule no-unconfined\)$/],
  ];
  for (const [what, opts, re] of denied) {
    const r = await createWith(d, { SecurityOpt: opts });
    assert.equal(r.status, 403, `${what}: ${r.body.toString()}`);
    assert.match(message(r), re, what);
    assert.match(message(r), /^authorization denied by plugin moat-policy: /);
  }
  assert.equal((await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length, 0, 'nothing was created');

  // The default, a stricter profile and a deny amendment pass, and keyctl stays blocked.
  const stricter = withRule('mkdir', { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 });
  for (const [what, hc] of [
    ['the default', {}],
    ['a stricter custom profile', { SecurityOpt: [`seccomp=${JSON.stringify(stricter)}`] }],
    ['seccomp-deny=mkdir', { SecurityOpt: ['seccomp-deny=mkdir'] }],
  ] as const) {
    const v = await probe(d, probePath, hc, ['keyctl', 'getpid']);
    assert.equal(v.get('getpid'), 'ok', `${what}: the container runs`);
    assert.equal(v.get('keyctl'), 'EPERM', `${what}: keyctl is still blocked inside`);
  }

  // An exec cannot change the filter: exec bodies have no SecurityOpt, a privileged exec is
  // refused, and an exec runs under the container's filter (runc exec keeps it).
  const box = await createWith(d, { Binds: [`${dirname(probePath)}:/p:ro`] }, ['sleep', '60'], 'box');
  assert.equal(box.status, 201);
  await d.api('POST', '/containers/box/start');
  const privExec = await d.api('POST', '/containers/box/exec', { Cmd: ['true'], Privileged: true });
  assert.equal(privExec.status, 400);
  assert.match(message(privExec), /Privileged exec is not supported by moat/);
  const ex = await d.api('POST', '/containers/box/exec', { Cmd: [`/p/${basename(probePath)}`, 'keyctl'], AttachStdout: true, AttachStderr: true });
  assert.equal(ex.status, 201, ex.body.toString());
  const out = await d.api('POST', `/exec/${ex.json<{ Id: string }>().Id}/start`, { Detach: false, Tty: false });
  const text = demux(out.body);
  assert.equal(verdict(parseProbeOutput(text).results.get('keyctl')?.[0]), 'EPERM', text);
});

test('issue 11.8: a bare "disable" is label=disable to the policy, and container:X joins are judged by the target', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const defer = deferStack(t);
  const dir = mkdtempSync('/tmp/mt-azfx-');
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const policyFile = join(dir, 'policy.json');
  // An administrator's containers first (a permissive policy), then the restrictive one.
  writeFileSync(policyFile, JSON.stringify({ version: 1, default: 'allow', rules: [] }));
  const plugin = await startTestPlugin(uniquePluginName('fx'));
  defer(() => plugin.close());
  const d = await startDaemon({ args: ['--authorization-policy', policyFile, '--authorization-plugin', plugin.name] });
  defer(() => d.cleanup());
  defer(async () => {
    writeFileSync(policyFile, JSON.stringify({ version: 1, default: 'allow', rules: [] }));
    process.kill(d.pid(), 'SIGHUP');
    await sleep(300);
  });
  for (const [name, hc] of [['hostpid', { PidMode: 'host' }], ['privbox', { Privileged: true, IpcMode: 'shareable' }], ['plain', { IpcMode: 'shareable' }], ['viahost', {}]] as const) {
    const r = await createWith(d, hc, ['sleep', '120'], name);
    assert.equal(r.status, 201, r.body.toString());
    assert.equal((await d.api('POST', `/containers/${name}/start`)).status, 204);
  }
  // A container that itself joined the host-pid one: its pid namespace is the host's too.
  const chained = await createWith(d, { PidMode: 'container:hostpid' }, ['sleep', '120'], 'chained');
  assert.equal(chained.status, 201, chained.body.toString());
  await d.api('POST', '/containers/chained/start');
  const ids = Object.fromEntries(await Promise.all(['hostpid', 'privbox', 'plain', 'chained'].map(async (n) => [n, (await d.api('GET', `/containers/${n}/json`)).json<{ Id: string }>().Id] as const)));

  writeFileSync(policyFile, JSON.stringify(POLICY));
  process.kill(d.pid(), 'SIGHUP');
  await sleep(500);

  const disable = await createWith(d, { SecurityOpt: ['disable'] });
  assert.equal(disable.status, 403, disable.body.toString());
  assert.match(message(disable), /SELinux labels cannot be turned off \(rule no-label-disable\)$/);

  const viaHost = await createWith(d, { PidMode: 'container:hostpid' });
  assert.equal(viaHost.status, 403);
  assert.equal(message(viaHost), `authorization denied by plugin moat-policy: host namespaces are not allowed: joins the host's pid namespace through container ${ids['hostpid']} (rule host-ns)`);
  const viaChain = await createWith(d, { PidMode: 'container:chained' });
  assert.equal(viaChain.status, 403, 'a join of a join of the host namespace');
  assert.match(message(viaChain), /joins the host's pid namespace through container [0-9a-f]{64} \(rule host-ns\)$/);
  const priv = await createWith(d, { IpcMode: 'container:privbox' });
  assert.equal(priv.status, 403);
  assert.equal(message(priv), `authorization denied by plugin moat-policy: joining a privileged container is not allowed: joins the ipc namespace of privileged container ${ids['privbox']} (rule join-privileged)`);
  const unknown = await createWith(d, { NetworkMode: 'container:not-there-yet' });
  assert.equal(unknown.status, 404);
  assert.equal(message(unknown), 'No such container: not-there-yet');

  // The passing case: joining a plain container works, and the join is pinned to its id.
  const n0 = plugin.calls.length;
  const ok = await createWith(d, { PidMode: 'container:plain', IpcMode: 'container:plain' }, ['sh', '-c', 'readlink /proc/self/ns/pid'], 'joiner');
  assert.equal(ok.status, 201, ok.body.toString());
  const insp = (await d.api('GET', '/containers/joiner/json')).json<{ HostConfig: { PidMode: string; IpcMode: string } }>();
  assert.equal(insp.HostConfig.PidMode, `container:${ids['plain']}`);
  assert.equal(insp.HostConfig.IpcMode, `container:${ids['plain']}`);
  assert.equal((await d.api('POST', '/containers/joiner/start')).status, 204);
  // The plugin behind the policy saw the same facts.
  const req = plugin.calls.slice(n0).find((c) => c.call === '/AuthZPlugin.AuthZReq' && String(c.request.RequestUri).includes('/containers/create'));
  assert.ok(req, 'the plugin was asked');
  assert.deepEqual(JSON.parse(req.request.RequestHeaders['X-Moat-Effects'] as string), {
    Seccomp: { Profile: 'default', WeakerThanDefault: [] },
    Joins: [
      { Namespace: 'pid', Container: ids['plain'], Privileged: false, HostNamespace: false },
      { Namespace: 'ipc', Container: ids['plain'], Privileged: false, HostNamespace: false },
    ],
    VolumesFrom: [],
  });
  assert.equal(req.body.HostConfig.PidMode, `container:${ids['plain']}`);
});
