// `--volumes-from` (HostConfig.VolumesFrom), with the docker CLI, against what dockerd 20.10
// does on this machine: the source's binds and volumes at their targets, `:ro`, the new
// container's own mounts winning, rm -v leaving a volume another container has, moby's
// errors. What was authorized for the source is what is mounted: its binds keep the identity
// recorded at its create, and a policy's bind rules see them. Also the mount order (a parent
// before what is mounted inside it), which moat got wrong for `-v x:/a/b -v y:/a`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { deferStack } from '../../helpers/authz-plugin/index.js';
import { docker, dockerOk } from './cli.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('docker run --volumes-from: binds and volumes of the source, :ro, own mounts win, rm -v, errors', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const defer = deferStack(t);
  const tmp = mkdtempSync('/tmp/mt-vfrom-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const hostDir = join(tmp, 'shared');
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'h'), 'from-host\n');
  const d = await startDaemon();
  defer(() => d.cleanup());

  await dockerOk(d, ['create', '--name', 'src', '-v', 'vf-named:/n', '-v', '/anon', '-v', `${hostDir}:/b`, '--tmpfs', '/t', 'busybox', 'true']);
  const seen = await dockerOk(d, ['run', '--rm', '--volumes-from', 'src', 'busybox', 'sh', '-c', 'echo n > /n/x; echo a > /anon/y; cat /b/h; grep -c " /t " /proc/self/mounts || true']);
  assert.equal(seen, 'from-host\n0\n', 'the bind is there, the tmpfs is not (moby lists no --tmpfs among the mounts)');

  // :ro makes every mount read-only; the data written above is there.
  const ro = await docker(d, ['run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'sh', '-c', 'cat /n/x /anon/y; touch /n/z || touch /b/z || echo ro']);
  assert.equal(ro.code, 0, ro.stderr);
  assert.equal(ro.stdout, 'n\na\nro\n');
  // The moat CLI sends the same field.
  const viaMoat = await d.moat(['run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'sh', '-c', 'cat /n/x; touch /n/z 2>/dev/null || echo ro']);
  assert.equal(viaMoat.code, 0, viaMoat.stderr);
  assert.equal(viaMoat.stdout, 'n\nro\n');

  // The container's own mount at a target replaces the source's there.
  const own = join(tmp, 'own');
  mkdirSync(own);
  writeFileSync(join(own, 'mine'), '');
  await dockerOk(d, ['create', '--name', 'dep', '--volumes-from', 'src', '-v', `${own}:/b`, 'busybox', 'ls', '/b']);
  assert.equal(await dockerOk(d, ['start', '-a', 'dep']), 'mine\n');
  const mounts = JSON.parse(await dockerOk(d, ['inspect', 'dep', '--format', '{{json .Mounts}}'])) as Array<{ Type: string; Name?: string; Source: string; Destination: string; RW: boolean }>;
  const byTarget = new Map(mounts.map((m) => [m.Destination, m]));
  assert.deepEqual([...byTarget.keys()].sort(), ['/anon', '/b', '/n']);
  assert.equal(byTarget.get('/b')!.Source, own);
  assert.equal(byTarget.get('/n')!.Name, 'vf-named');
  const anon = byTarget.get('/anon')!.Name!;
  assert.match(anon, /^[0-9a-f]{64}$/);
  assert.match(byTarget.get('/anon')!.Source, new RegExp(`/volumes/${anon}/_data$`));

  // ps --filter volume= matches a volume's name, a bind's host path and any destination (moby);
  // system df counts the containers that have a volume, started or not (before: only started ones).
  const having = async (v: string): Promise<string[]> => (await dockerOk(d, ['ps', '-a', '--filter', `volume=${v}`, '--format', '{{.Names}}'])).trim().split('\n').filter((x) => x !== '').sort();
  assert.deepEqual(await having('vf-named'), ['dep', 'src']);
  assert.deepEqual(await having('/b'), ['dep', 'src']);
  assert.deepEqual(await having(own), ['dep']);
  assert.deepEqual(await having(hostDir), ['src']);
  const df = (await d.api('GET', '/system/df?type=volume')).json<{ Volumes: Array<{ Name: string; UsageData: { RefCount: number } }> }>();
  assert.equal(df.Volumes.find((v) => v.Name === 'vf-named')?.UsageData.RefCount, 2);
  // rm -v of the source leaves the anonymous volume the other container has; rm -v of that one removes it.
  await dockerOk(d, ['rm', '-v', 'src']);
  assert.ok((await dockerOk(d, ['volume', 'ls', '-q'])).split('\n').includes(anon), 'kept while dep has it');
  await dockerOk(d, ['rm', '-v', 'dep']);
  assert.deepEqual((await dockerOk(d, ['volume', 'ls', '-q'])).trim().split('\n'), ['vf-named'], 'the anonymous volume went with the last container; the named one stays');
  await dockerOk(d, ['volume', 'rm', 'vf-named']);

  // moby's errors, exit 125 from the CLI, nothing made.
  const errors: Array<[string, RegExp]> = [
    ['nosuch', /No such container: nosuch/],
    ['xx:rx', /invalid mode: rx/],
    ['xx:rshared', /invalid mode: rshared/],
  ];
  await dockerOk(d, ['create', '--name', 'xx', 'busybox', 'true']);
  for (const [spec, re] of errors) {
    const r = await docker(d, ['run', '--rm', '--volumes-from', spec, 'busybox', 'true']);
    assert.equal(r.code, 125, spec);
    assert.match(r.stderr, re);
  }
  assert.equal((await dockerOk(d, ['ps', '-aq'])).trim().split('\n').length, 1, 'only xx');
  await dockerOk(d, ['rm', 'xx']);
});

test('--volumes-from mounts the bind its source was authorized for: a source directory replaced since is refused at start', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const defer = deferStack(t);
  const tmp = mkdtempSync('/tmp/mt-vfrom-pin-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const dir = join(tmp, 'data');
  mkdirSync(dir);
  const d = await startDaemon();
  defer(() => d.cleanup());
  await dockerOk(d, ['create', '--name', 'src', '-v', `${dir}:/d`, 'busybox', 'true']);
  // Another directory now has the path (a rename is all a user who owns the parent needs).
  renameSync(dir, `${dir}.old`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'other'), '');
  // Made after the swap, the new container still carries the source's identity, not the new directory's.
  await dockerOk(d, ['create', '--name', 'dep', '--volumes-from', 'src', 'busybox', 'ls', '/d']);
  const r = await docker(d, ['start', '-a', 'dep']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /it is not what was authorized/);
  await dockerOk(d, ['rm', 'src', 'dep']);
});

test('a policy\'s bind rules see the binds --volumes-from brings', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const defer = deferStack(t);
  const tmp = mkdtempSync('/tmp/mt-vfrom-pol-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const allowed = join(tmp, 'allowed');
  const outside = join(tmp, 'outside');
  mkdirSync(allowed);
  mkdirSync(outside);
  const policyFile = join(tmp, 'policy.json');
  const open = { version: 1, default: 'allow', rules: [] };
  writeFileSync(policyFile, JSON.stringify(open));
  const d = await startDaemon({ args: ['--authorization-policy', policyFile] });
  defer(() => d.cleanup());
  const reload = async (policy: object, probe: () => Promise<boolean>): Promise<void> => {
    writeFileSync(policyFile, JSON.stringify(policy));
    process.kill(d.pid(), 'SIGHUP');
    for (let i = 0; i < 50 && !(await probe()); i++) await sleep(100);
  };
  // Made while binds were allowed anywhere (say, by an admin).
  for (const [name, src] of [['wide', outside], ['narrow', allowed]] as const) {
    const c = await d.api('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: [`${src}:/data`, 'vf-vol:/v'] } });
    assert.equal(c.status, 201, c.body.toString());
  }
  const vols = await d.api('POST', '/containers/create?name=vols', { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: ['vf-vol:/v'] } });
  assert.equal(vols.status, 201, vols.body.toString());
  const restricted = { version: 1, default: 'allow', rules: [{ id: 'binds', action: 'deny', message: 'binds only under the allowed dir', when: { bindOutside: [allowed] } }] };
  // The probe names no image moat has: allowed it is a 404 and makes nothing.
  await reload(restricted, async () => (await d.api('POST', '/containers/create', { Image: 'vf-no-such-image', HostConfig: { Binds: [`${outside}:/x`] } })).status === 403);
  const wideId = (await d.api('GET', '/containers/wide/json')).json<{ Id: string }>().Id;

  // Before, a create naming no host path could mount `outside` through the container that had it.
  const denied = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { VolumesFrom: ['wide:ro'] } });
  assert.equal(denied.status, 403, denied.body.toString());
  assert.equal(denied.json<{ message: string }>().message, `authorization denied by plugin moat-policy: binds only under the allowed dir: mounts ${outside} through --volumes-from ${wideId} (rule binds)`);
  for (const ok of ['narrow', 'vols']) {
    const c = await d.api('POST', `/containers/create?name=from-${ok}`, { Image: 'busybox', Cmd: ['true'], HostConfig: { VolumesFrom: [ok] } });
    assert.equal(c.status, 201, `${ok}: ${c.body.toString()}`);
  }
  // The engine takes the container judged: the reference is its id in the record.
  const stored = (await d.api('GET', '/containers/from-narrow/json')).json<{ HostConfig: { VolumesFrom: string[] } }>().HostConfig.VolumesFrom;
  const narrowId = (await d.api('GET', '/containers/narrow/json')).json<{ Id: string }>().Id;
  assert.deepEqual(stored, [narrowId]);
  await reload(open, async () => (await d.api('POST', '/containers/create?name=probe', { Image: 'busybox', HostConfig: { Binds: [`${outside}:/x`] } })).status === 201);
  for (const name of ['wide', 'narrow', 'vols', 'from-narrow', 'from-vols', 'probe']) await d.api('DELETE', `/containers/${name}?v=1&force=1`);
  await d.api('DELETE', '/volumes/vf-vol');
});

test('mounts are made parents first: -v x:/a/b -v y:/a shows both (moby sorts by depth)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const defer = deferStack(t);
  const tmp = mkdtempSync('/tmp/mt-mntorder-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  for (const n of ['x', 'y']) {
    mkdirSync(join(tmp, n));
    writeFileSync(join(tmp, n, `in-${n}`), '');
  }
  const d = await startDaemon();
  defer(() => d.cleanup());
  // Before: /a was mounted over /a/b, and `ls /a/b` failed.
  const out = await dockerOk(d, ['run', '--rm', '-v', `${join(tmp, 'x')}:/a/b`, '-v', `${join(tmp, 'y')}:/a`, 'busybox', 'sh', '-c', 'ls /a/b; ls /a']);
  assert.equal(out, 'in-x\nb\nin-y\n');
});
