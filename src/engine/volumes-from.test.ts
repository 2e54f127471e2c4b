// --volumes-from (plan.ts inheritMounts): which mounts a new container takes from its source
// containers, in moby's order of precedence, and what each keeps (the bind's recorded
// identity, the volume's anonymity, read-only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../../test/helpers/engine-rig.js';
import { DEFAULT_DAEMON_LOG_CONFIG } from './log-config.js';
import { inheritMounts, planContainer, planVolumes, type CreateInputs, type VolumesFromSource } from './plan.js';
import { byMountDepth } from './run-plan.js';

const unconfined = () => ({ spec: undefined, name: 'unconfined' });

function plan(hostConfig: CreateInputs['hostConfig'], config: Partial<CreateInputs['config']> = {}, id = 'a') {
  const inp: CreateInputs = { id: id.repeat(64), name: `c${id}`, created: new Date().toISOString(), config: { Image: 'img', Cmd: ['true'], ...config }, hostConfig, image: { id: `sha256:${'b'.repeat(64)}`, config: { config: {} } } };
  return planContainer(inp, DEFAULTS, DEFAULT_DAEMON_LOG_CONFIG, unconfined).record;
}

/** A source container as create leaves it: volumes named, bind identities recorded. */
function source(hostConfig: CreateInputs['hostConfig'], config: Partial<CreateInputs['config']> = {}, id = 's'): VolumesFromSource['record'] & { Plan: NonNullable<ReturnType<typeof plan>['Plan']> } {
  const rec = plan(hostConfig, config, id);
  let n = 0;
  planVolumes(rec, () => `anon${++n}`);
  rec.BindSources = rec.Plan!.mounts.filter((m) => m.kind === 'bind').map((m, i) => ({ Source: m.source, Target: m.target, Device: '1', Inode: String(100 + i) }));
  return rec as ReturnType<typeof source>;
}

test('the sources\' binds and volumes at their targets; the container\'s own Binds win, a later source wins over an earlier one', () => {
  const s1 = source({ Binds: ['/srv/a:/a', '/srv/shared:/shared:ro', 'named:/n'], Tmpfs: { '/t': '' } }, { Volumes: { '/anon': {} } });
  const s2 = source({ Binds: ['/srv/b:/shared'] }, {}, 't');
  const rec = plan({ Binds: ['/mine:/a'] }, { Volumes: { '/n': {} } });
  const got = inheritMounts(rec, [{ record: s1, plan: s1.Plan, readOnly: false }, { record: s2, plan: s2.Plan, readOnly: false }]);
  planVolumes(rec, () => 'new1', got.volumes);
  const mounts = rec.Plan!.mounts.map((m) => [m.kind, m.source, m.target, m.readOnly]);
  assert.deepEqual(mounts, [
    ['bind', '/mine', '/a', false],
    ['volume', 'named', '/n', false],
    ['volume', 'anon1', '/anon', false],
    ['bind', '/srv/b', '/shared', false],
  ]);
  // The identity each source recorded goes with its bind; none is made anew.
  assert.deepEqual(got.bindSources, [{ Source: '/srv/b', Target: '/shared', Device: '1', Inode: '100' }]);
  assert.deepEqual(got.unpinned, []);
  // The image's `-v /n` is not a new anonymous volume where a source's volume lands; no copy-up into theirs.
  assert.deepEqual(rec.Volumes, [
    { name: 'named', target: '/n', anonymous: false, noCopy: true, inherited: true },
    { name: 'anon1', target: '/anon', anonymous: true, noCopy: true, inherited: true },
  ]);
  assert.ok(rec.Plan!.mounts.filter((m) => m.kind === 'volume').every((m) => m.noCopy === true));
});

test(':ro makes every mount read-only; :rw keeps a read-only one read-only (moby: RW = source RW && mode RW)', () => {
  const s = source({ Binds: ['/srv/ro:/r:ro', '/srv/rw:/w', 'vol:/v'] });
  const ro = plan({});
  inheritMounts(ro, [{ record: s, plan: s.Plan, readOnly: true }]);
  assert.deepEqual(ro.Plan!.mounts.map((m) => [m.target, m.readOnly]), [['/r', true], ['/w', true], ['/v', true]]);
  const rw = plan({});
  inheritMounts(rw, [{ record: s, plan: s.Plan, readOnly: false }]);
  assert.deepEqual(rw.Plan!.mounts.map((m) => [m.target, m.readOnly]), [['/r', true], ['/w', false], ['/v', false]]);
});

test('a source without recorded identities (an old record) leaves its binds to be identified at this create', () => {
  const s = source({ Binds: ['/srv/a:/a'] });
  delete s.BindSources;
  const rec = plan({});
  const got = inheritMounts(rec, [{ record: s, plan: s.Plan, readOnly: false }]);
  assert.deepEqual(got.bindSources, []);
  assert.deepEqual(got.unpinned.map((m) => m.source), ['/srv/a']);
});

test('mounts are made parents first, whatever order they came in (moby sorts by depth)', () => {
  const ms = [{ destination: '/a/b/c' }, { destination: '/etc/hosts' }, { destination: '/a' }, { destination: '/x' }, { destination: '/a/b' }];
  assert.deepEqual(byMountDepth(ms).map((m) => m.destination), ['/a', '/x', '/etc/hosts', '/a/b', '/a/b/c']);
});
